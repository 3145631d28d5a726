import { after, before, describe } from 'node:test';
import pg from 'pg';
import { PostgresDriver } from '../../src/storage/postgres-driver.ts';
import { Storage } from '../../src/storage/storage.ts';
import { startPostgres, type PostgresServer } from './postgres.ts';

/**
 * The server for a storage suite: hands out empty databases and cleans up after itself. How the embedded
 * backend runs its server has tests of its own (test/storage/embedded-server.test.ts).
 */
export interface StorageBackend {
  readonly name: 'postgresql';
  /** A Storage on an empty, not yet initialized database that no other test uses. */
  fresh(): Promise<Storage>;
  close(): Promise<void>;
  /** the PostgreSQL server, for tests that run its tools */
  server: PostgresServer;
}

/** One server per file (initdb takes ~2 s); each fresh() is a new database on it, so tests stay apart. */
async function postgresBackend(): Promise<StorageBackend> {
  const server = await startPostgres();
  const opened: Storage[] = [];
  let databases = 0;
  return {
    name: 'postgresql',
    server,
    async fresh() {
      const name = `bigchain_${++databases}`;
      const admin = new pg.Client({ connectionString: server.connectionString });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const storage = new Storage(
        new PostgresDriver({ host: server.host, port: server.port, name, user: server.user }),
        name,
      );
      opened.push(storage);
      return storage;
    },
    async close() {
      await Promise.all(opened.map((storage) => storage.close()));
      await server.stop();
    },
  };
}

/**
 * The node's two backends are both PostgreSQL servers reached by one driver: the storage suites run on one,
 * a throwaway server of the test's own.
 */
export const BACKEND_NAMES = ['postgresql'] as const;

export function startBackend(): Promise<StorageBackend> {
  return postgresBackend();
}

/** Declares the suite once per backend, kysely-style: one set of tests, every engine. */
export function describeEachBackend(title: string, body: (backend: () => StorageBackend) => void): void {
  for (const name of BACKEND_NAMES) {
    describe(`${title} [${name}]`, () => {
      let backend: StorageBackend | undefined;
      before(async () => {
        backend = await startBackend();
      });
      after(async () => {
        await backend?.close();
      });
      body(() => {
        if (backend === undefined) throw new Error('backend not started');
        return backend;
      });
    });
  }
}
