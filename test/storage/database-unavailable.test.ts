import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { SchemaError } from '../../src/protocol/validation-errors.ts';
import { isDatabaseUnavailable } from '../../src/storage/errors.ts';
import { startPostgres, type PostgresServer } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';

/** What `work` rejects with; fails when it resolves. */
async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  assert.fail('expected a failure');
}

/**
 * isDatabaseUnavailable on the errors pg really throws: those that mean "the server cannot serve now"
 * (the API answers them 503 + Retry-After) and those that mean the query itself failed (not retried).
 */
describe('isDatabaseUnavailable', () => {
  let server: PostgresServer;
  const clients: pg.Client[] = [];

  async function client(options: pg.ClientConfig = {}): Promise<pg.Client> {
    const made = new pg.Client({ connectionString: server.connectionString, ...options });
    made.on('error', () => {}); // a terminated connection also emits 'error'
    clients.push(made);
    await made.connect();
    return made;
  }

  before(async () => {
    // Three connections in all, so a fourth meets "too many clients" (53300).
    server = await startPostgres({
      settings: { max_connections: '3', superuser_reserved_connections: '0', max_wal_senders: '0' },
    });
  });
  after(async () => {
    await Promise.all(clients.map((made) => made.end().catch(() => {})));
    await server.stop();
  });

  test('a connection refused, timed out, terminated or refused for lack of slots: unavailable', async () => {
    const refused = await failure(() => new pg.Client({ host: '127.0.0.1', port: 1, user: 'x' }).connect());
    assert.equal((refused as { code?: string }).code, 'ECONNREFUSED');
    assert.equal(isDatabaseUnavailable(refused), true);
    assert.equal(
      isDatabaseUnavailable(new AggregateError([refused], 'every address')),
      true,
      'AggregateError',
    );

    // A server that accepts the connection and never answers.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const quiet = { host: '127.0.0.1', port, user: 'x', connectionTimeoutMillis: 100 };
      const clientTimeout = await failure(() => new pg.Client(quiet).connect());
      assert.equal((clientTimeout as Error).message, 'timeout expired');
      const pool = new pg.Pool(quiet);
      const poolTimeout = await failure(() => pool.query('SELECT 1'));
      assert.equal((poolTimeout as Error).message, 'Connection terminated due to connection timeout');
      for (const error of [clientTimeout, poolTimeout]) assert.equal(isDatabaseUnavailable(error), true);
      await pool.end();
    } finally {
      silent.close();
    }

    const victim = await client();
    const admin = await client();
    const sleeping = failure(() => victim.query('SELECT pg_sleep(30)'));
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    const terminated = await sleeping;
    assert.equal(
      (terminated as { code?: string }).code,
      '57P01',
      'terminating connection due to administrator command',
    );
    const afterwards = await failure(() => victim.query('SELECT 1'));
    // Which of the two depends on whether pg has seen the connection end yet.
    assert.match(
      (afterwards as Error).message,
      /^(Connection terminated unexpectedly|Client has encountered a connection error and is not queryable)$/,
    );
    for (const error of [terminated, afterwards]) assert.equal(isDatabaseUnavailable(error), true);
    // A terminated backend frees its slot when it has exited, a moment after pg_terminate_backend returns.
    await waitFor('the terminated backend to exit', async () => {
      const { rows } = await admin.query<{ others: string }>(
        "SELECT count(*)::text AS others FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      return rows[0]?.others === '0';
    });

    // The pool has its one connection lent out: the next caller waits, then gives up.
    const full = new pg.Pool({
      connectionString: server.connectionString,
      max: 1,
      connectionTimeoutMillis: 100,
    });
    const held = await full.connect();
    const waited = await failure(() => full.query('SELECT 1'));
    assert.equal((waited as Error).message, 'timeout exceeded when trying to connect');
    assert.equal(isDatabaseUnavailable(waited), true);

    await client(); // with `admin` and the pool's, all three slots
    const tooMany = await failure(() =>
      new pg.Client({ connectionString: server.connectionString }).connect(),
    );
    assert.equal((tooMany as { code?: string }).code, '53300');
    assert.equal(isDatabaseUnavailable(tooMany), true);
    held.release();
    await full.end();

    const midQuery = await client();
    const running = failure(() => midQuery.query('SELECT pg_sleep(30)'));
    await server.kill();
    const lost = await running;
    assert.equal((lost as Error).message, 'Connection terminated unexpectedly');
    assert.equal(isDatabaseUnavailable(lost), true);
    await server.start();
  });

  test('a query that is wrong, or anything not about the connection: not unavailable', async () => {
    const admin = await client();
    const wrong = [
      await failure(() => admin.query('SELEC 1')), // 42601
      await failure(() => admin.query('SELECT 1 / 0')), // 22012
      await failure(() => admin.query('SELECT * FROM no_such_table')), // 42P01
      await failure(() => admin.query('SELECT $1::text', ['a\u0000b'])), // 22021, the %00 of issue 12
      new SchemaError('transaction.id must match pattern'),
      new TypeError('x is undefined'),
      'a string',
      undefined,
    ];
    for (const error of wrong) assert.equal(isDatabaseUnavailable(error), false, String(error));
  });
});
