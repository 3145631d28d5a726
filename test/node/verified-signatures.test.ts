import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VerifiedSignatures } from '../../src/node/verified-signatures.ts';
import type { VerifyJob } from '../../src/node/verify-pool.ts';
import { serialize } from '../../src/protocol/json.ts';
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
  test('a tag made under the key of the start process is accepted there: the job is then known, the parsed row checked alone', () => {
    const { job } = transferJob();
    const node = new VerifiedSignatures();
    const worker = new VerifiedSignatures({ tagKey: node.exportTagKey() });
    const text = serialize(job.tx);
    assert.equal(worker.tag(job.tx, text), undefined, 'no tag before the worker found the signatures good');
    worker.add(job);
    const tag = worker.tag(job.tx, text);
    assert.match(tag ?? '', /^[0-9a-f]{64}$/);
    assert.equal(node.has(job), false);
    const row = JSON.parse(text) as Transaction;
    assert.equal(node.isCheckedAlone(row), false);
    assert.equal(node.acceptTag(row, text, tag!), true);
    assert.equal(node.has(job), true);
    assert.equal(node.isCheckedAlone(row), true, 'the object parsed from the tagged text');
    assert.equal(node.isCheckedAlone(JSON.parse(text)), false, 'not another object with the same content');
  });

  test("another key's tag, a tag moved to another row, a changed text and garbage are refused", () => {
    const { create, transfer, job } = transferJob();
    const node = new VerifiedSignatures();
    const otherNode = new VerifiedSignatures();
    otherNode.add(job);
    const text = serialize(transfer);
    assert.equal(node.acceptTag(transfer, text, otherNode.tag(transfer, text)!), false, "another node's key");

    const worker = new VerifiedSignatures({ tagKey: node.exportTagKey() });
    worker.add(job);
    const tag = worker.tag(transfer, text)!;
    const refused = (tx: Transaction, rowText: string, rowTag: string, why: string) => {
      assert.equal(node.acceptTag(tx, rowText, rowTag), false, why);
      assert.equal(node.isCheckedAlone(tx), false, why);
    };
    refused(create, serialize(create), tag, 'the tag of another transaction');
    // Same id (the fulfillments are not hashed into it), another signature: the tag does not carry over.
    const forgery = forged(transfer, create);
    refused(forgery, serialize(forgery), tag, 'a forged copy');
    const body = structuredClone(transfer);
    body.transaction.data.payload = { changed: true };
    refused(body, serialize(body), tag, 'the body changed after the tag was made');
    refused(transfer, JSON.stringify(transfer, null, 1), tag, 'the same JSON, not the text that was tagged');
    refused(transfer, text, tag.slice(0, 63), 'a truncated tag');
    refused(transfer, text, '', 'an empty tag');
    refused({ id: transfer.id } as unknown as Transaction, '{}', tag, 'not a transaction');
    assert.equal(node.has(job), false, 'none of them made the job known');
    assert.equal(node.acceptTag(transfer, text, tag), true, 'while its own tag is accepted');
  });

  test('a transaction spending a timeout condition is never tagged, nor known through a tag', () => {
    const { transfer } = transferJob();
    const text = serialize(transfer);
    const timeoutJob: VerifyJob = { tx: transfer, inputConditions: [{ uri: 'cc:63:9:abc:1' }], now: NOW };
    const node = new VerifiedSignatures();
    const worker = new VerifiedSignatures({ tagKey: node.exportTagKey() });
    worker.add(timeoutJob);
    assert.equal(worker.tag(transfer, text), undefined);
    // Even a tag its key made for the same id and fulfillments (checked without the timeout) does not skip it.
    const plain = new VerifiedSignatures({ tagKey: node.exportTagKey() });
    plain.add({ ...timeoutJob, inputConditions: [{ uri: 'cc:4:20:abc:96' }] });
    assert.equal(node.acceptTag(transfer, text, plain.tag(transfer, text)!), true);
    assert.equal(node.has(timeoutJob), false);
  });

  test('a tag key of the wrong size is refused', () => {
    assert.throws(
      () => new VerifiedSignatures({ tagKey: 'abcd' }),
      /a signature tag key is 32 bytes in hex, not 2/,
    );
  });
});
