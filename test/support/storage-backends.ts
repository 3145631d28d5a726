import { after, before, describe } from 'node:test';
import pg from 'pg';
import type { BackendName, SqlDriver } from '../../src/storage/driver.ts';
import { IN_MEMORY_PATH, PGliteDriver } from '../../src/storage/pglite-driver.ts';
import { PostgresDriver } from '../../src/storage/postgres-driver.ts';
import { Storage } from '../../src/storage/storage.ts';
import { startPostgres, type PostgresServer } from './postgres.ts';

/** One backend for the shared storage suite: hands out empty databases and cleans up after itself. */
export interface StorageBackend {
  readonly name: BackendName;
  /** A Storage on an empty, not yet initialized database that no other test uses. */
  fresh(): Promise<Storage>;
  close(): Promise<void>;
  /** the PostgreSQL server, for tests that run its tools (absent for the embedded backend) */
  server?: PostgresServer;
}

/**
 * PGlite takes seconds to start, so one in-memory instance serves the whole file; fresh() empties it.
 * The Storage handed out must not close it, hence the wrapper whose close() does nothing.
 */
async function embeddedBackend(): Promise<StorageBackend> {
  const driver = await PGliteDriver.open(IN_MEMORY_PATH);
  const shared: SqlDriver = {
    backend: driver.backend,
    query: (text, params) => driver.query(text, params),
    transaction: (work) => driver.transaction(work),
    exec: (script) => driver.exec(script),
    listen: (channel, onWake) => driver.listen(channel, onWake),
    close: async () => {},
  };
  return {
    name: 'embedded',
    async fresh() {
      const storage = new Storage(shared, 'memory');
      if (await storage.isInitialized()) await storage.drop();
      return storage;
    },
    close: () => driver.close(),
  };
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

export const BACKEND_NAMES: readonly BackendName[] = ['embedded', 'postgresql'];

export function startBackend(name: BackendName): Promise<StorageBackend> {
  return name === 'embedded' ? embeddedBackend() : postgresBackend();
}

/** Declares the same suite once per backend, kysely-style: one set of tests, every engine. */
export function describeEachBackend(title: string, body: (backend: () => StorageBackend) => void): void {
  for (const name of BACKEND_NAMES) {
    describe(`${title} [${name}]`, () => {
      let backend: StorageBackend | undefined;
      before(async () => {
        backend = await startBackend(name);
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
