import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Client,
  createTransaction,
  DriverError,
  getStatus,
  getTransaction,
  InvalidTransaction,
  KeypairError,
  KeypairMismatchException,
  lookupInTransactions,
  postTransaction,
  signTransaction,
  waitFor,
  NetworkError,
  tempClient,
  TimeoutError,
  TransactionNotFound,
  generateKeyPair,
} from '../../src/driver/index.ts';
import { startLoneNode, type NodeProcess } from '../support/node-process.ts';

/** The driver against `bigchaindb start` run as a user runs it (embedded database, temp HOME, any free port). */
describe('bigchaindb/driver against a running node', () => {
  let dir: string;
  let node: NodeProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bigchain-driver-'));
    node = await startLoneNode(dir);
  });
  after(async () => {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('create → waitFor valid → getTransaction; transfer → valid; a double spend is refused', async () => {
    const alice = tempClient({ apiEndpoint: node.apiUrl });
    const bob = tempClient({ apiEndpoint: node.apiUrl });

    const created = await alice.create({ msg: 'Hello BigchainDB!' });
    // The node rebuilt the client's CREATE as its own, to the client's key, with the same payload.
    assert.equal(created.assignee, node.keyPair.publicKey);
    assert.equal(created.transaction.operation, 'CREATE');
    assert.deepEqual(created.transaction.fulfillments[0]?.owners_before, [node.keyPair.publicKey]);
    assert.deepEqual(created.transaction.conditions[0]?.owners_after, [alice.publicKey]);
    assert.deepEqual(created.transaction.data.payload, { msg: 'Hello BigchainDB!' });

    assert.equal(await alice.waitFor(created.id, 'valid', { timeoutMs: 20_000, intervalMs: 50 }), 'valid');
    assert.deepEqual(await alice.getTransaction(created.id), {
      id: created.id,
      transaction: created.transaction,
    });
    assert.equal(await getStatus(alice, created.id), 'valid');

    const transfer = await alice.transfer(bob.publicKey, { txid: created.id, cid: 0 }, { note: 'to bob' });
    assert.equal(transfer.transaction.operation, 'TRANSFER');
    assert.deepEqual(transfer.transaction.fulfillments[0]?.input, { txid: created.id, cid: 0 });
    assert.deepEqual(transfer.transaction.conditions[0]?.owners_after, [bob.publicKey]);
    await alice.waitFor(transfer.id, 'valid', { timeoutMs: 20_000, intervalMs: 50 });
    assert.equal((await getTransaction({ apiEndpoint: node.apiUrl }, transfer.id)).id, transfer.id);

    const carol = tempClient({ apiEndpoint: node.apiUrl });
    const doubleSpend = await alice.transfer(carol.publicKey, { txid: created.id, cid: 0 }).then(
      () => assert.fail('a double spend was accepted'),
      (error: unknown) => error,
    );
    assert.ok(doubleSpend instanceof InvalidTransaction);
    assert.ok(doubleSpend instanceof DriverError);
    assert.equal(doubleSpend.status, 400);
    assert.equal(doubleSpend.reason, 'DoubleSpend');
    assert.equal(
      doubleSpend.message,
      `DoubleSpend: input \`{"txid":"${created.id}","cid":0}\` was already spent by \`${transfer.id}\``,
    );
    assert.deepEqual(doubleSpend.details.body, { status: 400, message: doubleSpend.message });

    // Bob spends what he got: the input is fetched over HTTP, no database access.
    const back = await bob.transfer(alice.publicKey, { txid: transfer.id, cid: 0 });
    await bob.waitFor(back.id, 'valid', { timeoutMs: 20_000, intervalMs: 50 });
  });

  test('custom conditions with the re-exported builders: a 2-of-2 output spent by both owners', async () => {
    const alice = tempClient({ apiEndpoint: node.apiUrl });
    const bob = tempClient({ apiEndpoint: node.apiUrl });
    const wait = { timeoutMs: 20_000, intervalMs: 50 };
    const created = await alice.create();
    await alice.waitFor(created.id, 'valid', wait);
    const shared = await alice.transfer([alice.publicKey, bob.publicKey], { txid: created.id, cid: 0 });
    await alice.waitFor(shared.id, 'valid', wait);
    const connection = { apiEndpoint: node.apiUrl };
    const input = await getTransaction(connection, shared.id);
    const tx = createTransaction(
      [alice.publicKey, bob.publicKey],
      alice.publicKey,
      { txid: shared.id, cid: 0 },
      'TRANSFER',
    );
    // One signature of two is not enough to build the fulfillment…
    assert.throws(
      () => signTransaction(tx, alice.privateKey, lookupInTransactions([input])),
      KeypairMismatchException,
    );
    // …both are.
    const spent = await postTransaction(
      connection,
      signTransaction(tx, [alice.privateKey, bob.privateKey], lookupInTransactions([input])),
    );
    await waitFor(connection, spent.id, 'valid', wait);
  });

  test('an unsigned transaction is InvalidTransaction with the node’s reason', async () => {
    const alice = tempClient({ apiEndpoint: node.apiUrl });
    const unsigned = createTransaction(alice.publicKey, alice.publicKey, null, 'CREATE');
    await assert.rejects(alice.push(unsigned), (error: unknown) => {
      assert.ok(error instanceof InvalidTransaction);
      assert.equal(error.status, 400);
      assert.equal(error.reason, 'InvalidSignature');
      assert.match(error.message, /^InvalidSignature: /);
      return true;
    });
  });

  test('getTransaction and getStatus of an unknown id → TransactionNotFound (404)', async () => {
    const client = tempClient({ apiEndpoint: node.apiUrl });
    const unknown = '0'.repeat(64);
    await assert.rejects(client.getTransaction(unknown), (error: unknown) => {
      assert.ok(error instanceof TransactionNotFound);
      assert.equal(error.status, 404);
      assert.equal(error.message, `transaction \`${unknown}\` is unknown to this node`);
      return true;
    });
    await assert.rejects(client.getStatus(unknown), TransactionNotFound);
    // transfer needs the input transaction from the node first
    await assert.rejects(client.transfer(client.publicKey, { txid: unknown, cid: 0 }), TransactionNotFound);
  });

  test('waitFor gives up with TimeoutError, telling the last status it saw', async () => {
    const client = tempClient({ apiEndpoint: node.apiUrl });
    const created = await client.create();
    await client.waitFor(created.id, 'valid', { timeoutMs: 20_000, intervalMs: 50 });
    const started = Date.now();
    await assert.rejects(
      client.waitFor(created.id, 'invalid', { timeoutMs: 300, intervalMs: 50 }),
      (error) => {
        assert.ok(error instanceof TimeoutError);
        assert.equal(error.status, undefined);
        assert.deepEqual(error.details, {
          id: created.id,
          waitingFor: 'invalid',
          lastStatus: 'valid',
          timeoutMs: 300,
        });
        return true;
      },
    );
    assert.ok(Date.now() - started < 2_000);
    await assert.rejects(client.waitFor('f'.repeat(64), 'valid', { timeoutMs: 100 }), TimeoutError);
  });

  test('getNodeInfo answers GET / beside the API prefix', async () => {
    const info = await tempClient({ apiEndpoint: node.apiUrl }).getNodeInfo();
    assert.equal(info.public_key, node.keyPair.publicKey);
    assert.equal(info.software, 'BigchainDB');
  });
});

describe('bigchaindb/driver without a node', () => {
  test('an unreachable endpoint → NetworkError (no status)', async () => {
    // A port that was just free: listen on any port, note it, close it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const client = tempClient({ apiEndpoint: `http://127.0.0.1:${port}/api/v1` });
    await assert.rejects(client.create(), (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      assert.ok(error instanceof DriverError);
      assert.equal(error.status, undefined);
      assert.match(
        error.message,
        new RegExp(`^POST http://127\\.0\\.0\\.1:${port}/api/v1/transactions/ failed: `),
      );
      assert.equal(error.details.url, `http://127.0.0.1:${port}/api/v1/transactions/`);
      // What fetch failed with is the standard Error.cause, not a detail.
      assert.ok(error.cause instanceof Error);
      assert.equal(error.details.cause, undefined);
      return true;
    });
    await assert.rejects(client.getStatus('0'.repeat(64)), NetworkError);
  });

  test('a Client needs a matching keypair', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const apiEndpoint = 'http://localhost:9984/api/v1';
    assert.throws(
      () => new Client({ publicKey: a.publicKey, privateKey: b.privateKey, apiEndpoint }),
      KeypairError,
    );
    assert.throws(() => new Client({ publicKey: '', privateKey: a.privateKey, apiEndpoint }), KeypairError);
    assert.throws(() => new Client({ publicKey: 'x', privateKey: a.privateKey, apiEndpoint }), KeypairError);
    assert.throws(() => new Client({ ...a, apiEndpoint: 'localhost:9984' }), DriverError);
    assert.equal(new Client({ ...a, apiEndpoint: `${apiEndpoint}/` }).apiEndpoint, apiEndpoint);
  });
});
