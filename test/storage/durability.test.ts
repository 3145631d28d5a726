import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { DEFAULT_DATABASE_CONFIG, openStorage, PostgresDriver, Storage } from '../../src/storage/index.ts';
import { requirePostgresBin, runPostgresTool } from '../../src/storage/local-postgres.ts';
import { startPostgres } from '../support/postgres.ts';
import { rawDriver } from '../support/raw-sql.ts';

const WRITER = new URL('../fixtures/storage-writer.ts', import.meta.url).pathname;

interface Acknowledged {
  backlog: string[];
  blocks: { block: string; transactions: string[] }[];
}

/** Runs the writer until it has acknowledged `blocks` blocks, then SIGKILLs it mid-write. */
async function writeThenKill(args: string[], blocks: number): Promise<Acknowledged> {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', WRITER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  const acknowledged: Acknowledged = { backlog: [], blocks: [] };
  for await (const line of createInterface({ input: child.stdout })) {
    const ack = JSON.parse(line) as { backlog?: string[]; block?: string; transactions?: string[] };
    if (ack.backlog) acknowledged.backlog.push(...ack.backlog);
    if (ack.block && ack.transactions)
      acknowledged.blocks.push({ block: ack.block, transactions: ack.transactions });
    if (acknowledged.blocks.length === blocks) {
      child.kill('SIGKILL');
      break;
    }
  }
  assert.equal(await exited, 'SIGKILL', `the writer died on its own: ${stderr}`);
  return acknowledged;
}

/** Everything acknowledged survived, and every transaction is in exactly one place: a block or the backlog. */
async function assertNothingLost(storage: Storage, acknowledged: Acknowledged): Promise<void> {
  const blocks = await storage.getBlocks(acknowledged.blocks.map((ack) => ack.block));
  for (const ack of acknowledged.blocks) {
    assert.deepEqual(
      blocks.get(ack.block)?.block.block.transactions.map((tx) => tx.id),
      ack.transactions,
    );
  }
  const inBacklog = await storage.getBacklog(acknowledged.backlog);
  const inBlocks = new Set(
    (await storage.getTransactions(acknowledged.backlog)).map((copy) => copy.transaction.id),
  );
  for (const id of acknowledged.backlog) {
    assert.ok(inBacklog.has(id) !== inBlocks.has(id), `${id} must be in exactly one of backlog and blocks`);
  }
  const counts = await storage.counts();
  const [orphans] = await rawDriver(storage).query<{ n: number }>(
    'SELECT count(*)::int AS n FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = t.block_id)',
  );
  assert.equal(orphans?.n, 0, 'no transaction rows without their block');
  assert.ok(counts.blocks >= acknowledged.blocks.length + 1);
}

describe('a crash of the node process loses nothing acknowledged', () => {
  test('embedded: SIGKILL the node mid-write, crash its server, reopen the data directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bigchain-durability-'));
    try {
      const acknowledged = await writeThenKill(['embedded', dir], 8);
      // The server outlives the node killed outright; crash it too, so that reopening runs crash recovery.
      assert.ok(existsSync(join(dir, 'pgdata', 'postmaster.pid')), 'the server outlived the node');
      await runPostgresTool(
        requirePostgresBin(),
        'pg_ctl',
        ['-D', join(dir, 'pgdata'), '-m', 'immediate', 'stop'],
        dir,
      );
      const config = { ...DEFAULT_DATABASE_CONFIG, path: dir };
      const storage = await openStorage(config);
      try {
        await assertNothingLost(storage, acknowledged);
      } finally {
        await storage.close();
      }
      assert.equal(existsSync(join(dir, 'pgdata', 'postmaster.pid')), false, 'closing stopped the server');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('postgresql: SIGKILL the writer, then crash and recover the server itself', async () => {
    // Durable settings: the harness default fsync=off would only be safe against process crashes.
    const server = await startPostgres({ settings: { fsync: 'on' } });
    try {
      const acknowledged = await writeThenKill(['postgresql', String(server.port)], 8);
      await server.kill();
      await server.start();
      const connection = { host: server.host, port: server.port, name: server.database, user: server.user };
      const storage = new Storage(new PostgresDriver(connection), server.database);
      try {
        await assertNothingLost(storage, acknowledged);
      } finally {
        await storage.close();
      }
    } finally {
      await server.stop();
    }
  });
});
