import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { BackendName, SqlDriver } from './driver.ts';
import {
  EMBEDDED_USER,
  IN_MEMORY_PATH,
  isLegacyEmbeddedDirectory,
  openEmbeddedServer,
  openEphemeralServer,
  type EmbeddedServer,
} from './embedded-server.ts';
import { DatabaseDoesNotExist } from './errors.ts';
import { createDatabaseIfMissing, PostgresDriver, type PostgresConnection } from './postgres-driver.ts';
import { Storage } from './storage.ts';

/** The `database` section of the node configuration. */
export interface DatabaseConfig extends PostgresConnection {
  /**
   * `embedded` (the default): a PostgreSQL server the node runs itself on `path`, reached through a Unix
   * socket there; `postgresql`: a server at `host:port` that you run, which a federation shares
   */
  backend: BackendName;
  /** embedded: the data directory, or `memory://` for a throwaway one */
  path: string;
}

export const DEFAULT_DATABASE_CONFIG: DatabaseConfig = {
  backend: 'embedded',
  path: join(homedir(), '.bigchaindb-data'),
  host: 'localhost',
  port: 5432,
  name: 'bigchain',
};

export interface OpenOptions {
  /** init, start, restore: create the database (and on the embedded backend its cluster) if missing */
  create?: boolean;
  /** start: this process is the node, which owns the embedded server while it runs (one node per path) */
  asNode?: boolean;
  /** backup: a data directory of the earlier embedded engine (PGlite) is read, to move its chain over */
  readLegacy?: boolean;
  /** told how the embedded backend's server was found (start logs it) */
  onEmbeddedServer?: (server: EmbeddedServer) => void;
}

/** The embedded backend's server, and the connection to it. */
async function embeddedConnection(
  config: DatabaseConfig,
  options: OpenOptions,
): Promise<{ connection: PostgresConnection; server: EmbeddedServer }> {
  const embedded = {
    role: options.asNode === true ? ('node' as const) : ('tool' as const),
    user: config.user ?? EMBEDDED_USER,
    password: config.password ?? null,
  };
  const server =
    config.path === IN_MEMORY_PATH
      ? await openEphemeralServer(embedded)
      : await openEmbeddedServer(config.path, embedded);
  options.onEmbeddedServer?.(server);
  const connection = {
    ...config,
    host: server.socketDir,
    port: server.port,
    user: embedded.user,
  };
  return { connection, server };
}

/**
 * Opens the configured database. With `create` (init, start, restore) a database that does not exist yet
 * is created first; without it, a missing one is reported rather than created. A database made by an
 * earlier version is upgraded.
 *
 * @example
 * ```ts
 * import { DEFAULT_DATABASE_CONFIG, IN_MEMORY_PATH, openStorage } from 'bigchaindb';
 *
 * // A throwaway embedded PostgreSQL server; `{ ...DEFAULT_DATABASE_CONFIG, path }` keeps one on disk.
 * const storage = await openStorage({ ...DEFAULT_DATABASE_CONFIG, path: IN_MEMORY_PATH }, { create: true });
 * console.log(await storage.isInitialized()); // false: `bigchaindb init` writes the genesis block
 * await storage.close();
 * ```
 */
export async function openStorage(config: DatabaseConfig, options: OpenOptions = {}): Promise<Storage> {
  const embedded = config.backend === 'embedded';
  const name = embedded ? config.path : config.name;
  if (embedded && config.path !== IN_MEMORY_PATH) {
    if (!options.create && !existsSync(config.path)) throw DatabaseDoesNotExist.named(name);
    if (options.readLegacy === true && isLegacyEmbeddedDirectory(config.path))
      return upgraded(new Storage(await openLegacy(config.path), name));
  }
  let driver: SqlDriver;
  if (embedded) {
    const { connection, server } = await embeddedConnection(config, options);
    try {
      if (options.create || config.path === IN_MEMORY_PATH) await createDatabaseIfMissing(connection);
    } catch (error) {
      await server.release();
      throw error;
    }
    driver = new PostgresDriver(connection, () => server.release());
  } else {
    if (options.create) await createDatabaseIfMissing(config);
    driver = new PostgresDriver(config);
  }
  return upgraded(new Storage(driver, name));
}

async function openLegacy(path: string): Promise<SqlDriver> {
  const { PGliteDriver } = await import('./pglite-driver.ts');
  return PGliteDriver.open(path);
}

async function upgraded(storage: Storage): Promise<Storage> {
  try {
    await storage.upgrade();
  } catch (error) {
    await storage.close();
    throw error;
  }
  return storage;
}
