import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BaseConsensusRules } from '../../src/protocol/consensus.ts';
import type { Transaction } from '../../src/protocol/transaction.ts';
import type { ValidationContext } from '../../src/protocol/validation.ts';
import { Bigchain } from '../../src/node/bigchain.ts';
import { selectTransactions } from '../../src/node/block-builder.ts';
import { VerifyPool } from '../../src/node/verify-pool.ts';
import { forged, generateKeyPair, TestChain } from '../support/chain.ts';
import SealedPayloadRules from '../fixtures/sealed-payload-plugin.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

let pool: VerifyPool;
before(() => {
  pool = new VerifyPool(2);
});
after(async () => {
  await pool.close();
});

describeEachBackend('selecting the transactions of a block', (backend) => {
  async function node(consensus?: BaseConsensusRules): Promise<{ b: Bigchain; chain: TestChain }> {
    const chain = new TestChain();
    const b = new Bigchain({
      storage: await backend().fresh(),
      keyPair: chain.node,
      ...(consensus ? { consensus } : {}),
    });
    await b.createGenesisBlock();
    return { b, chain };
  }

  test('keeps the valid ones in order and rejects each other one with its reason', async () => {
    const { b, chain } = await node();
    const alice = generateKeyPair();
    const asset = chain.create(alice.publicKey);
    const stored = chain.create(alice.publicKey);
    const assetBlock = b.createBlock([asset, stored]);
    await b.writeBlock(assetBlock);
    await b.storage.markBlockValid(assetBlock.id);

    const fresh = chain.create(alice.publicKey);
    const badSignature = forged(chain.transfer(asset, alice, generateKeyPair().publicKey), fresh);
    const spend = chain.transfer(asset, alice, generateKeyPair().publicKey);
    const secondSpend = chain.transfer(asset, alice, generateKeyPair().publicKey);
    const wrongId = { ...chain.create(alice.publicKey), id: 'f'.repeat(64) };
    const candidates = [fresh, badSignature, spend, secondSpend, stored, wrongId, 'not a transaction', fresh];

    const { accepted, rejected } = await selectTransactions(b, pool, candidates);
    assert.deepEqual(
      accepted.map((tx) => tx.id),
      [fresh.id, spend.id],
      'the forged spend did not block the good one',
    );
    assert.deepEqual(
      rejected.map((rejection) => [
        rejection.reason.constructor.name,
        rejection.transaction === 'not a transaction',
      ]),
      [
        ['InvalidSignature', false],
        ['DoubleSpend', false], // `secondSpend`: `spend` took the output first
        ['ReplayError', false], // `stored` is already in a block
        ['InvalidHash', false],
        ['SchemaError', true],
        ['ReplayError', false], // `fresh` a second time
      ],
    );
    assert.match(
      rejected.find((r) => r.reason.constructor.name === 'DoubleSpend')!.reason.message,
      new RegExp(spend.id),
    );
    await b.writeBlock(b.createBlock(accepted));
  });

  test('a block-sized batch split over the workers: every verdict lands on its own transaction', async () => {
    const { b, chain } = await node();
    const owner = generateKeyPair().publicKey;
    const txs = Array.from({ length: 600 }, (_, n) => chain.create(owner, { n }));
    const forgedAt = [10, 249, 250, 599];
    const candidates = txs.map((tx, i) => (forgedAt.includes(i) ? forged(tx, txs[(i + 1) % 600]!) : tx));
    const checked = pool.checked;
    const { accepted, rejected } = await selectTransactions(b, pool, candidates);
    assert.deepEqual(
      accepted.map((tx) => tx.id),
      txs.filter((_, i) => !forgedAt.includes(i)).map((tx) => tx.id),
    );
    assert.deepEqual(
      rejected.map((r) => [(r.transaction as Transaction).id, r.reason.constructor.name]),
      forgedAt.map((i) => [txs[i]!.id, 'InvalidSignature']),
    );
    assert.equal(pool.checked - checked, 600);
  });

  test('a plugin with its own validateTransaction is asked for each transaction', async () => {
    const seen: string[] = [];
    class Recording extends BaseConsensusRules {
      override validateTransaction(ctx: ValidationContext, tx: unknown): Promise<Transaction> {
        seen.push((tx as Transaction).id);
        return super.validateTransaction(ctx, tx);
      }
    }
    const { b, chain } = await node(new Recording());
    const owner = generateKeyPair().publicKey;
    const txs = [chain.create(owner), chain.create(owner)];
    const { accepted, rejected } = await selectTransactions(b, pool, [...txs, txs[0]]);
    assert.deepEqual(accepted, txs);
    assert.deepEqual(
      rejected.map((r) => r.reason.constructor.name),
      ['ReplayError'],
    );
    assert.deepEqual(seen, [txs[0]!.id, txs[1]!.id, txs[0]!.id]);
  });
});

describeEachBackend('a plugin fulfillments stage decides what a block takes', (backend) => {
  test('a sealed payload, well signed, is refused in building and voting alike', async () => {
    const chain = new TestChain();
    const b = new Bigchain({
      storage: await backend().fresh(),
      keyPair: chain.node,
      consensus: new SealedPayloadRules(),
    });
    await b.createGenesisBlock();
    const alice = generateKeyPair();
    const plain = chain.create(alice.publicKey);
    const sealed = chain.create(alice.publicKey, { sealed: true });
    const built = await selectTransactions(b, pool, [plain, sealed]);
    assert.deepEqual(
      built.accepted.map((tx) => tx.id),
      [plain.id],
    );
    assert.match(built.rejected[0]!.reason.message, /refuses sealed payloads/);
    // Voting on another node's block holding it: the same selection, without that block.
    const voted = await selectTransactions(b, pool, [plain, sealed], { exceptBlock: 'f'.repeat(64) });
    assert.deepEqual(
      voted.rejected.map((r) => (r.transaction as Transaction).id),
      [sealed.id],
    );
    await assert.rejects(b.validateTransaction(sealed), /refuses sealed payloads/);
  });
});
