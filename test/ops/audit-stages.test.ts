import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bigchain } from '../../src/node/bigchain.ts';
import { VerifyPool } from '../../src/node/verify-pool.ts';
import { auditChain, formatProblem } from '../../src/ops/audit.ts';
import type { Storage } from '../../src/storage/storage.ts';
import SealedPayloadRules from '../fixtures/sealed-payload-plugin.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

/** A chain whose one valid block holds a well-signed CREATE with a sealed payload. */
async function sealedChain(storage: Storage): Promise<{ txid: string; blockId: string }> {
  const chain = new TestChain();
  const node = new Bigchain({ storage, keyPair: chain.node, keyring: [] });
  await node.createGenesisBlock();
  const sealed = chain.create(generateKeyPair().publicKey, { sealed: true });
  const block = node.createBlock([sealed, chain.create(generateKeyPair().publicKey)]);
  await node.writeBlock(block);
  assert.equal(await node.writeVote(node.vote(block.id, await storage.genesisBlockId(), true)), true);
  assert.equal(await storage.markBlockValid(block.id), true);
  return { txid: sealed.id, blockId: block.id };
}

describeEachBackend('auditChain judges stored transactions by the consensus rules it is given', (backend) => {
  test("a plugin's fulfillments stage changes what the audit accepts, in process and on the pool", async () => {
    const storage = await backend().fresh();
    const { txid, blockId } = await sealedChain(storage);

    const base = await auditChain(storage);
    assert.deepEqual(base.problems, [], base.problems.map(formatProblem).join('\n'));

    const expected = [
      { kind: 'transaction', blockId, txid, message: 'this federation refuses sealed payloads' },
    ];
    const inProcess = await auditChain(storage, { stages: new SealedPayloadRules() });
    assert.deepEqual(inProcess.problems, expected);

    const pool = new VerifyPool(1);
    try {
      const pooled = await auditChain(storage, { stages: new SealedPayloadRules(), pool });
      assert.deepEqual(pooled.problems, expected);
    } finally {
      await pool.close();
    }
  });
});
