import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { Admission } from '../../src/node/admission.ts';
import { Bigchain } from '../../src/node/bigchain.ts';
import type { BacklogSignatureCheck, NodeMetrics } from '../../src/node/metrics.ts';
import { BigchainNode, type NodeOptions } from '../../src/node/node.ts';
import { VerifiedSignatures } from '../../src/node/verified-signatures.ts';
import { VerifyPool } from '../../src/node/verify-pool.ts';
import { serialize } from '../../src/protocol/json.ts';
import { createAndSignTx, createInputCondition, type Transaction } from '../../src/protocol/transaction.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { forged, generateKeyPair, TestChain } from '../support/chain.ts';
import { allSettled, outcomes, type Outcome } from '../support/outcomes.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { describeEachBackend } from '../support/storage-backends.ts';
import { waitFor } from '../support/wait.ts';

const FAST: NodeOptions = { blockSize: 50, blockTimeoutMs: 50, reassignDelayMs: 60_000, verifyWorkers: 1 };

/**
 * The block pipeline of a node skips the signature checks its API workers made (their tag on the backlog
 * row, under the key of this start), and checks every row that another node (or another start) wrote.
 */
describeEachBackend('backlog signature tags', (backend) => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  async function startNode(
    storage: Storage,
    chain: TestChain,
  ): Promise<{ node: BigchainNode; bigchain: Bigchain }> {
    const bigchain = new Bigchain({ storage, keyPair: chain.node, keyring: [] });
    const node = await BigchainNode.start(bigchain, FAST);
    closing.push(() => node.stop());
    return { node, bigchain };
  }

  /** What an API worker process of `node` runs: its own pool and memory, the node's tag key. */
  async function apiWorker(node: BigchainNode, chain: TestChain, storage: Storage): Promise<Admission> {
    const pool = new VerifyPool(1);
    await pool.ready();
    closing.push(() => pool.close());
    const bigchain = new Bigchain({ storage, keyPair: chain.node, keyring: [] });
    return new Admission(bigchain, pool, new VerifiedSignatures({ tagKey: node.verified.exportTagKey() }));
  }

  async function settled(storage: Storage, txs: readonly Transaction[]): Promise<Outcome[]> {
    const ids = txs.map((tx) => tx.id);
    const statuses = await waitFor('the transactions to settle', async () => {
      const s = await outcomes(storage, ids);
      return allSettled(s) && s;
    });
    return ids.map((id) => statuses.get(id)!);
  }

  async function counted(metrics: NodeMetrics, check: BacklogSignatureCheck): Promise<number> {
    const metric = metrics.registry.getSingleMetric('bigchaindb_backlog_signature_checks_total')!;
    const { values } = await metric.get();
    return values.find((value) => value.labels.check === check)?.value ?? 0;
  }

  test("rows tagged by the node's API worker are not checked again; untagged rows and another key's tags are", async () => {
    const storage = await backend().fresh();
    const chain = new TestChain();
    const { node, bigchain } = await startNode(storage, chain);
    const alice = generateKeyPair();

    // Written without a tag, as another federation node (or an older start of this one) writes them.
    const creates = Array.from({ length: 6 }, () => chain.create(alice.publicKey));
    for (const tx of creates) await bigchain.writeTransaction(tx);
    assert.deepEqual(await settled(storage, creates), Array(6).fill('valid'));
    assert.equal(node.signaturesChecked, 6, 'untagged rows are checked');
    assert.equal(await counted(node.metrics, 'verified'), 6);
    assert.equal(await counted(node.metrics, 'skipped'), 0);

    // Through an API worker: transfers signed by alice, and a client CREATE the worker signs as the node.
    const worker = await apiWorker(node, chain, storage);
    const transfers = creates.slice(0, 3).map((tx) => chain.transfer(tx, alice, generateKeyPair().publicKey));
    const clientCreate = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
      payload: { n: 1 },
    });
    const admitted = await Promise.all([...transfers, clientCreate].map((tx) => worker.submit(tx)));
    const workerTxs = admitted.map((outcome) => outcome.transaction);
    assert.deepEqual(await settled(storage, workerTxs), Array(4).fill('valid'));
    assert.equal(node.signaturesChecked, 6, "the worker's checks are not made again");
    assert.equal(await counted(node.metrics, 'skipped'), 4);

    // Tagged under another key (another node's): a valid transfer is checked and accepted, one with a bad
    // signature is checked and rejected.
    const otherNode = new VerifiedSignatures();
    const tagged = (tx: Transaction, spent: Transaction) => {
      otherNode.add({ tx, inputConditions: [spent.transaction.conditions[0]!.condition], now: '0' });
      return { transaction: tx, assignee: bigchain.me, verifiedTag: otherNode.tag(tx, serialize(tx))! };
    };
    const good = chain.transfer(creates[3]!, alice, generateKeyPair().publicKey);
    const bad = forged(chain.transfer(creates[4]!, alice, generateKeyPair().publicKey), good);
    await storage.writeBacklog([tagged(good, creates[3]!), tagged(bad, creates[4]!)]);
    assert.deepEqual(await settled(storage, [good, bad]), ['valid', 'rejected']);
    assert.match((await storage.getRejected([bad.id])).get(bad.id)!.reason, /^InvalidSignature: /);
    assert.equal(node.signaturesChecked, 8, 'both were checked');
    assert.equal(await counted(node.metrics, 'verified'), 8);
    assert.equal(await counted(node.metrics, 'skipped'), 4);

    // A row changed after this node's tag was made (by another writer of the shared database) keeps the
    // tag but not its text: checked in full, its id no longer the hash of its body.
    const sharer = new VerifiedSignatures({ tagKey: node.verified.exportTagKey() });
    const original = chain.transfer(creates[5]!, alice, generateKeyPair().publicKey);
    sharer.add({
      tx: original,
      inputConditions: [creates[5]!.transaction.conditions[0]!.condition],
      now: '0',
    });
    const changed = structuredClone(original);
    changed.transaction.data.payload = { changed: true };
    await storage.writeBacklog([
      {
        transaction: changed,
        assignee: bigchain.me,
        verifiedTag: sharer.tag(original, serialize(original))!,
      },
    ]);
    assert.deepEqual(await settled(storage, [changed]), ['rejected']);
    assert.match((await storage.getRejected([changed.id])).get(changed.id)!.reason, /^InvalidHash: /);
    assert.equal(await counted(node.metrics, 'verified'), 9);
    assert.equal(await counted(node.metrics, 'skipped'), 4);
  });

  test('a tag from an earlier start of the node is not trusted by the next', async () => {
    const storage = await backend().fresh();
    const chain = new TestChain();
    const alice = generateKeyPair();
    const first = await startNode(storage, chain);
    const earlierKey = first.node.verified.exportTagKey();
    await closing.pop()!();
    const create = chain.create(alice.publicKey);
    const earlier = new VerifiedSignatures({ tagKey: earlierKey });
    earlier.add({
      tx: create,
      inputConditions: [createInputCondition(create.transaction.fulfillments[0]!)!],
      now: '0',
    });
    await storage.writeBacklog([
      {
        transaction: create,
        assignee: chain.node.publicKey,
        verifiedTag: earlier.tag(create, serialize(create))!,
      },
    ]);

    const { node } = await startNode(storage, chain);
    assert.notEqual(node.verified.exportTagKey(), earlierKey, 'each start has a key of its own');
    assert.deepEqual(await settled(storage, [create]), ['valid']);
    assert.equal(node.signaturesChecked, 1);
    assert.equal(await counted(node.metrics, 'verified'), 1);
  });

  test('a version-2 database is upgraded: the backlog gets its tag column, its rows are checked', async () => {
    const storage = await backend().fresh();
    const chain = new TestChain();
    await storage.init(chain.genesis);
    const create = chain.create(generateKeyPair().publicKey);
    await storage.writeBacklog([{ transaction: create, assignee: chain.node.publicKey }]);
    await rawDriver(storage).query('ALTER TABLE backlog DROP COLUMN verified_tag');
    await rawDriver(storage).query("UPDATE bigchaindb_meta SET value = '2' WHERE key = 'schema_version'");

    assert.deepEqual(await storage.upgrade(), { from: '2' });
    assert.equal((await storage.getBacklog([create.id])).get(create.id)?.verifiedTag, null);
    const { node } = await startNode(storage, chain);
    assert.deepEqual(await settled(storage, [create]), ['valid']);
    assert.equal(node.signaturesChecked, 1);
  });
});
