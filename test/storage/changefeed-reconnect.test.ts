import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Transaction } from '../../src/protocol/transaction.ts';
import { PostgresDriver, Storage, type BacklogEntry, type Changefeed } from '../../src/storage/index.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { startPostgres, type PostgresServer } from '../support/postgres.ts';

/** Reads a feed in the background, recording the id of every row. */
function follow(feed: Changefeed<BacklogEntry>): { ids: string[]; done: Promise<void> } {
  const ids: string[] = [];
  const done = (async () => {
    for await (const batch of feed) ids.push(...batch.map((entry) => entry.transaction.id));
  })();
  return { ids, done };
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('changefeed on PostgreSQL across lost connections', () => {
  let server: PostgresServer;
  let reader: Storage;
  let writer: Storage;
  let chain: TestChain;
  const owner = generateKeyPair().publicKey;

  const connection = () => ({
    host: server.host,
    port: server.port,
    name: server.database,
    user: server.user,
  });

  before(async () => {
    server = await startPostgres();
    reader = new Storage(new PostgresDriver(connection()), server.database);
    writer = new Storage(new PostgresDriver(connection()), server.database);
    chain = new TestChain();
    await writer.init(chain.genesis);
  });
  after(async () => {
    await reader.close();
    await writer.close();
    await server.stop();
  });

  async function write(count: number): Promise<Transaction[]> {
    const txs = Array.from({ length: count }, () => chain.create(owner));
    await writer.writeBacklog(txs.map((transaction) => ({ transaction, assignee: 'node' })));
    return txs;
  }

  test('a listener whose connection was killed receives every row inserted meanwhile', async () => {
    const feed = reader.backlogFeed({ after: await reader.feedHead() });
    const seen = follow(feed);
    const before = await write(3);
    await until('the first rows', () => seen.ids.length === 3);

    const admin = new pg.Client({ connectionString: server.connectionString });
    await admin.connect();
    const killed = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bigchaindb changefeed'",
    );
    await admin.end();
    assert.equal(killed.rowCount, 1, 'the listener connection existed and was terminated');
    const meanwhile = await write(5);
    await until('the rows written while disconnected', () => seen.ids.length === 8);
    const afterwards = await write(2);
    await until('rows written after reconnecting', () => seen.ids.length === 10);
    assert.deepEqual(
      seen.ids,
      [...before, ...meanwhile, ...afterwards].map((tx) => tx.id),
    );
    await feed.close();
    await seen.done;
  });

  test('a PostgreSQL restart loses nothing: rows written before, during recovery and after all arrive', async () => {
    const feed = reader.backlogFeed({ after: await reader.feedHead() });
    const seen = follow(feed);
    const before = await write(2);
    await until('the first rows', () => seen.ids.length === 2);
    await server.kill();
    await sleep(300);
    await server.start();
    const afterwards = await write(4);
    await until('rows written after the restart', () => seen.ids.length === 6);
    assert.deepEqual(
      seen.ids,
      [...before, ...afterwards].map((tx) => tx.id),
    );
    await feed.close();
    await seen.done;
  });

  test('a feed started while the server is down waits, reports the errors, and then delivers', async () => {
    await server.kill();
    const errors: unknown[] = [];
    const feed = reader.backlogFeed({ onError: (error) => errors.push(error) });
    const seen = follow(feed);
    await until('a reported connection error', () => errors.length > 0);
    await server.start();
    const rows = await write(3);
    await until('the rows written once the server is back', () =>
      rows.every((tx) => seen.ids.includes(tx.id)),
    );
    await feed.close();
    await seen.done;
  });
});
