import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import type { KeyPair } from '../../src/protocol/crypto.ts';
import type { Transaction } from '../../src/protocol/transaction.ts';
import { PostgresDriver } from '../../src/storage/postgres-driver.ts';
import { Storage } from '../../src/storage/storage.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { logRecord } from '../support/log-records.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { allSettled, outcomes, safetyViolations, tally } from '../support/outcomes.ts';
import { startPostgres, type PostgresServer } from '../support/postgres.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Federations of real node processes (`bigchaindb start`), each with its own keypair and a keyring of the
 * others, sharing one PostgreSQL server; the test is a client writing to the backlog and reading the chain.
 */
describe('a federation of node processes sharing one PostgreSQL database', () => {
  let server: PostgresServer;
  let dir: string;
  let databases = 0;
  const running: NodeProcess[] = [];
  const clients: Storage[] = [];

  before(async () => {
    server = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'bigchain-federation-'));
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((node) => node.stop('SIGKILL')));
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  interface Federation {
    keys: KeyPair[];
    nodes: (NodeProcess | undefined)[];
    storage: Storage;
    chain: TestChain;
    start: (index: number) => Promise<NodeProcess>;
  }

  /** n keypairs; the nodes listed in `up` are started (all by default). */
  async function federation(
    n: number,
    settings: Record<string, unknown>,
    up: readonly number[] = [...Array(n).keys()],
  ): Promise<Federation> {
    const keys = Array.from({ length: n }, generateKeyPair);
    const name = `federation_${++databases}`;
    const database = { backend: 'postgresql', host: server.host, port: server.port, name, user: server.user };
    const nodes: (NodeProcess | undefined)[] = Array.from({ length: n }, () => undefined);
    const start = async (index: number): Promise<NodeProcess> => {
      const node = await startNodeProcess({
        dir,
        keyPair: keys[index]!,
        keyring: keys.map((key) => key.publicKey),
        database,
        settings: { block_timeout: 0.2, ...settings },
      });
      running.push(node);
      nodes[index] = node;
      return node;
    };
    // All at once: they race to create the database and the genesis block, and exactly one must win.
    const started = await Promise.allSettled(up.map(start));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const storage = new Storage(
      new PostgresDriver({ host: server.host, port: server.port, name, user: server.user }),
      name,
    );
    clients.push(storage);
    return { keys, nodes, storage, chain: new TestChain(keys[0]), start };
  }

  async function settle(storage: Storage, ids: readonly string[], timeoutMs = 120_000) {
    return waitFor(
      'every transaction to be in a valid block or rejected',
      async () => {
        const statuses = await outcomes(storage, ids);
        return allSettled(statuses) && statuses;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  function creates(chain: TestChain, count: number): Transaction[] {
    const owner = generateKeyPair().publicKey;
    return Array.from({ length: count }, (_, n) => chain.create(owner, { n, at: Math.random() }));
  }

  /** Assigned round-robin over the given nodes, as writeTransaction spreads them. */
  function assigned(txs: readonly Transaction[], keys: readonly KeyPair[]) {
    return txs.map((transaction, i) => ({ transaction, assignee: keys[i % keys.length]!.publicKey }));
  }

  test('3 nodes: of two transfers of one output sent at the same moment to different nodes, exactly one is valid', async () => {
    const { keys, storage, chain } = await federation(3, {});
    assert.equal((await storage.counts()).blocks, 1, 'one genesis block, whoever created it');
    const alice = generateKeyPair();
    const assets = Array.from({ length: 10 }, () => chain.create(alice.publicKey));
    await storage.writeBacklog(assigned(assets, keys));
    await settle(
      storage,
      assets.map((tx) => tx.id),
    );

    const pairs = assets.map((asset) => [
      chain.transfer(asset, alice, generateKeyPair().publicKey),
      chain.transfer(asset, alice, generateKeyPair().publicKey),
    ]);
    await Promise.all([
      storage.writeBacklog(pairs.map(([first]) => ({ transaction: first!, assignee: keys[1]!.publicKey }))),
      storage.writeBacklog(
        pairs.map(([, second]) => ({ transaction: second!, assignee: keys[2]!.publicKey })),
      ),
    ]);
    const statuses = await settle(
      storage,
      pairs.flat().map((tx) => tx.id),
    );
    const rejected = await storage.getRejected(pairs.flat().map((tx) => tx.id));
    for (const pair of pairs) {
      const results = pair.map((tx) => statuses.get(tx.id)).sort();
      assert.deepEqual(results, ['rejected', 'valid'], 'one spend of each output wins');
      const loser = pair.find((tx) => statuses.get(tx.id) === 'rejected')!;
      assert.match(rejected.get(loser.id)!.reason, /^DoubleSpend: /);
    }
    assert.deepEqual(await safetyViolations(storage), { doubleIncluded: [], doubleSpent: [] });
  });

  test('3 nodes: a node killed with SIGKILL under load; the others take over its backlog and nothing is lost', async () => {
    const { keys, nodes, storage, chain } = await federation(3, { backlog_reassign_delay: 2 });
    const txs = creates(chain, 1500);
    const chunks = [0, 1, 2, 3, 4].map((i) => txs.slice(i * 300, (i + 1) * 300));
    await storage.writeBacklog(assigned(chunks[0]!, keys));
    await waitFor('a first block', async () => (await storage.counts()).blocks > 2);
    await nodes[2]!.stop('SIGKILL');
    for (const chunk of chunks.slice(1)) {
      await storage.writeBacklog(assigned(chunk, keys));
      await delay(100);
    }
    const statuses = await settle(
      storage,
      txs.map((tx) => tx.id),
    );
    assert.deepEqual(tally(statuses), { valid: txs.length });
    assert.deepEqual(await safetyViolations(storage), { doubleIncluded: [], doubleSpent: [] });
    assert.ok(
      nodes.slice(0, 2).some((node) =>
        node!.lines.some((line) => {
          const record = logRecord(line);
          return record?.name === 'stale' && /^Reassigned \d+ transactions/.test(record.msg);
        }),
      ),
      'the survivors reassigned the dead node’s transactions',
    );
  });

  test('3 nodes: the PostgreSQL server restarted under load; the nodes reconnect and nothing is lost', async () => {
    const { keys, nodes, storage, chain } = await federation(3, {});
    const txs = creates(chain, 1500);
    const chunks = [0, 1, 2, 3, 4].map((i) => txs.slice(i * 300, (i + 1) * 300));
    for (const [i, chunk] of chunks.entries()) {
      if (i === 2) await server.restart();
      // The client's pool reconnects too, but a write may meet the restart: retry it as a client would.
      await waitFor('the backlog write', async () => {
        try {
          await storage.writeBacklog(assigned(chunk, keys));
          return true;
        } catch {
          return false;
        }
      });
      await delay(100);
    }
    const statuses = await settle(
      storage,
      txs.map((tx) => tx.id),
    );
    assert.deepEqual(tally(statuses), { valid: txs.length });
    assert.deepEqual(await safetyViolations(storage), { doubleIncluded: [], doubleSpent: [] });
    assert.ok(
      nodes.every((node) => node!.child.exitCode === null),
      'every node is still running',
    );
    // The restart closed every connection: the nodes' changefeed listeners are new ones.
    const [listeners] = await rawDriver(storage).query<{ count: number }>(
      "SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = 'bigchaindb changefeed'",
    );
    assert.equal(listeners?.count, 3, 'each node listens again');
  });

  test('5 nodes: 2 down still decide blocks; with 3 down blocks stay undecided until enough nodes return', async () => {
    const { keys, nodes, storage, chain, start } = await federation(
      5,
      { backlog_reassign_delay: 600 },
      [0, 1, 2],
    );
    const first = creates(chain, 30);
    await storage.writeBacklog(assigned(first, keys.slice(0, 3)));
    const decided = await settle(
      storage,
      first.map((tx) => tx.id),
      60_000,
    );
    assert.deepEqual(tally(decided), { valid: first.length }, '3 of 5 voters are a majority');

    await nodes[2]!.stop('SIGTERM');
    const second = creates(chain, 30);
    await storage.writeBacklog(assigned(second, keys.slice(0, 2)));
    await waitFor('the blocks of the second batch', async () => {
      const s = await outcomes(
        storage,
        second.map((tx) => tx.id),
      );
      return [...s.values()].every((status) => status === 'undecided');
    });
    await delay(2_000);
    assert.deepEqual(
      tally(
        await outcomes(
          storage,
          second.map((tx) => tx.id),
        ),
      ),
      { undecided: second.length },
      '2 of 5 voters cannot decide',
    );

    await Promise.all([start(2), start(3)]);
    const late = await settle(
      storage,
      second.map((tx) => tx.id),
      60_000,
    );
    assert.deepEqual(tally(late), { valid: second.length }, 'decided once the returning nodes caught up');
    assert.deepEqual(await safetyViolations(storage), { doubleIncluded: [], doubleSpent: [] });
  });
});
