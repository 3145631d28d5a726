import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BlockConflictError,
  DEFAULT_DATABASE_CONFIG,
  IN_MEMORY_PATH,
  openStorage,
  PostgresDriver,
  Storage,
} from '../../src/storage/index.ts';
import { setReplicas, setShards } from '../../src/ops/cluster.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { startPostgres, startStandby, type PostgresServer } from '../support/postgres.ts';
import { rawDriver } from '../support/raw-sql.ts';

function serverStorage(server: PostgresServer): Storage {
  const driver = new PostgresDriver({
    host: server.host,
    port: server.port,
    name: server.database,
    user: server.user,
  });
  return new Storage(driver, server.database);
}

describe('set-shards on the embedded backend', () => {
  test('partitions the tables of the server the node runs, like on any PostgreSQL', async () => {
    const config = { ...DEFAULT_DATABASE_CONFIG, path: IN_MEMORY_PATH };
    const storage = await openStorage(config, { create: true });
    try {
      const chain = new TestChain();
      await storage.init(chain.genesis);
      const block = chain.block([chain.create(generateKeyPair().publicKey)]);
      await storage.writeBlock(block);
      const report = await setShards(storage, 4);
      assert.match(report.done.join('\n'), /4 hash partitions/);
      assert.equal(await storage.meta('shards'), '4');
      assert.equal((await storage.getBlock(block.id))?.block.id, block.id);
    } finally {
      await storage.close();
    }
  });
});

describe('set-shards on a PostgreSQL server', () => {
  let server: PostgresServer;
  let storage: Storage;
  before(async () => {
    server = await startPostgres();
    storage = serverStorage(server);
  });
  after(async () => {
    await storage.close();
    await server.stop();
  });

  async function partitionCount(table: string): Promise<number> {
    const [row] = await rawDriver(storage).query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = $1::regclass',
      [table],
    );
    return row?.n ?? 0;
  }

  test('re-lays out the tables keeping every row, index and invariant', async () => {
    const chain = new TestChain();
    await storage.init(chain.genesis);
    const alice = generateKeyPair();
    const assets = Array.from({ length: 30 }, () => chain.create(alice.publicKey));
    await storage.writeBlock(chain.block(assets));
    const spend = chain.transfer(assets[0]!, alice, generateKeyPair().publicKey);
    await storage.writeBlock(chain.block([spend]));
    const before = await storage.counts();

    const report = await setShards(storage, 4);
    assert.match(report.done[0]!, /as 4 hash partitions each .*\(\d+ rows copied\)/);
    assert.match(report.todo[0]!, /partitions all live on this PostgreSQL server/);
    for (const table of ['blocks', 'transactions', 'outputs', 'spends', 'votes', 'backlog']) {
      assert.equal(await partitionCount(table), 4, table);
    }
    assert.deepEqual(await storage.counts(), before);
    assert.equal((await storage.outputsByOwner(alice.publicKey, { unspent: true })).length, 29);
    assert.equal((await storage.getSpenders([{ txid: assets[0]!.id, cid: 0 }]))[0]?.spender, spend.id);
    const rival = chain.transfer(assets[0]!, alice, generateKeyPair().publicKey);
    await assert.rejects(storage.writeBlock(chain.block([rival])), BlockConflictError);
    const feed = storage.blockFeed({ after: await storage.feedHead() });
    const next = chain.block([chain.transfer(assets[1]!, alice, generateKeyPair().publicKey)]);
    await storage.writeBlock(next);
    for await (const blocks of feed) {
      assert.deepEqual(
        blocks.map((stored) => stored.block.id),
        [next.id],
      );
      break;
    }

    assert.deepEqual((await setShards(storage, 4)).done, [
      'The tables already have 4 shards; nothing changed.',
    ]);
    await setShards(storage, 2);
    assert.equal(await partitionCount('blocks'), 2);
    const plain = await setShards(storage, 1);
    assert.match(plain.done[0]!, /as plain tables/);
    assert.equal(await partitionCount('blocks'), 0);
    assert.equal((await storage.counts()).transactions, before.transactions + 1);
    await assert.rejects(setShards(storage, 0), /must be a whole number of at least 1, not 0/);
  });
});

describe('set-replicas on a PostgreSQL primary with a streaming standby', () => {
  let primary: PostgresServer;
  let standby: PostgresServer;
  let storage: Storage;
  before(async () => {
    primary = await startPostgres();
    standby = await startStandby(primary);
    storage = serverStorage(primary);
  });
  after(async () => {
    await storage.close();
    await standby.stop();
    await primary.stop();
  });

  test('with 2 replicas a commit waits for the standby: writes block while it is down and complete when it returns', async () => {
    const chain = new TestChain();
    await storage.init(chain.genesis);
    const report = await setReplicas(storage, 2);
    assert.deepEqual(report.done, [
      "Every commit now waits until 1 standby has it (synchronous_standby_names = 'ANY 1 (*)'), so 2 copies exist before a write is acknowledged.",
      'Standbys streaming from this server now: 1 (standby1).',
    ]);
    assert.deepEqual(report.todo, []);
    const owner = generateKeyPair().publicKey;
    await storage.writeBlock(chain.block([chain.create(owner)]));

    await standby.kill();
    let settled = false;
    const blocked = storage.writeBlock(chain.block([chain.create(owner)])).finally(() => {
      settled = true;
    });
    await sleep(1500);
    assert.equal(settled, false, 'the commit must wait for the missing standby');
    await standby.start();
    await blocked;
    assert.equal((await storage.counts()).blocks, 3);

    const alone = await setReplicas(storage, 3);
    assert.match(alone.todo[0]!, /^Only 1 of the 2 standbys needed are connected/);
    const off = await setReplicas(storage, 1);
    assert.match(off.done[0]!, /^Commits no longer wait for standbys/);
    await standby.kill();
    await storage.writeBlock(chain.block([chain.create(owner)]));
    await standby.start();
  });
});
