import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VerifiedSignatures } from '../../src/node/verified-signatures.ts';
import type { VerifyJob } from '../../src/node/verify-pool.ts';
import type { Transaction } from '../../src/protocol/transaction.ts';
import { forged, generateKeyPair, TestChain } from '../support/chain.ts';

const NOW = '1700000000';

/** A CREATE to alice and its TRANSFER to bob, with the transfer's signature-check job. */
function transferJob(): { create: Transaction; transfer: Transaction; job: VerifyJob } {
  const chain = new TestChain();
  const alice = generateKeyPair();
  const create = chain.create(alice.publicKey);
  const transfer = chain.transfer(create, alice, generateKeyPair().publicKey);
  return {
    create,
    transfer,
    job: { tx: transfer, inputConditions: [create.transaction.conditions[0]!.condition], now: NOW },
  };
}

describe('VerifiedSignatures: backlog tags', () => {
  test('a tag made under the key of the start process is accepted there, and the job is then known', () => {
    const { job } = transferJob();
    const node = new VerifiedSignatures();
    const worker = new VerifiedSignatures({ tagKey: node.exportTagKey() });
    assert.equal(worker.tag(job.tx), undefined, 'no tag before the worker found the signatures good');
    worker.add(job);
    const tag = worker.tag(job.tx);
    assert.match(tag ?? '', /^[0-9a-f]{64}$/);
    assert.equal(node.has(job), false);
    assert.equal(node.acceptTag(job.tx, tag!), true);
    assert.equal(node.has(job), true);
  });

  test("another key's tag, a tag copied to another transaction or to a forged copy, and garbage are refused", () => {
    const { create, transfer, job } = transferJob();
    const node = new VerifiedSignatures();
    const otherNode = new VerifiedSignatures();
    otherNode.add(job);
    assert.equal(node.acceptTag(transfer, otherNode.tag(transfer)!), false, "another node's key");

    const worker = new VerifiedSignatures({ tagKey: node.exportTagKey() });
    worker.add(job);
    const tag = worker.tag(transfer)!;
    assert.equal(node.acceptTag(create, tag), false, 'the tag of another transaction');
    // Same id (the fulfillments are not hashed into it), another signature: the tag does not carry over.
    assert.equal(node.acceptTag(forged(transfer, create), tag), false, 'a forged copy');
    assert.equal(node.acceptTag(transfer, tag.slice(0, 63)), false, 'a truncated tag');
    assert.equal(node.acceptTag(transfer, ''), false, 'an empty tag');
    assert.equal(
      node.acceptTag({ id: transfer.id } as unknown as Transaction, tag),
      false,
      'not a transaction',
    );
    assert.equal(node.has(job), false, 'none of them made the job known');
    assert.equal(node.acceptTag(transfer, tag), true, 'while its own tag is accepted');
  });

  test('a transaction spending a timeout condition is never tagged, nor known through a tag', () => {
    const { transfer } = transferJob();
    const timeoutJob: VerifyJob = { tx: transfer, inputConditions: [{ uri: 'cc:63:9:abc:1' }], now: NOW };
    const node = new VerifiedSignatures();
    const worker = new VerifiedSignatures({ tagKey: node.exportTagKey() });
    worker.add(timeoutJob);
    assert.equal(worker.tag(transfer), undefined);
    // Even a tag its key made for the same id and fulfillments (checked without the timeout) does not skip it.
    const plain = new VerifiedSignatures({ tagKey: node.exportTagKey() });
    plain.add({ ...timeoutJob, inputConditions: [{ uri: 'cc:4:20:abc:96' }] });
    assert.equal(node.acceptTag(transfer, plain.tag(transfer)!), true);
    assert.equal(node.has(timeoutJob), false);
  });

  test('a tag key of the wrong size is refused', () => {
    assert.throws(
      () => new VerifiedSignatures({ tagKey: 'abcd' }),
      /a signature tag key is 32 bytes in hex, not 2/,
    );
  });
});
