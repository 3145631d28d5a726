import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { BackendName, SqlDriver } from './driver.ts';
import { DatabaseDoesNotExist } from './errors.ts';
import { IN_MEMORY_PATH, PGliteDriver } from './pglite-driver.ts';
import { createDatabaseIfMissing, PostgresDriver, type PostgresConnection } from './postgres-driver.ts';
import { Storage } from './storage.ts';

/** The `database` section of the node configuration: the server settings are used by `postgresql` only. */
export interface DatabaseConfig extends PostgresConnection {
  /** `embedded` (PGlite in this process, the default) or `postgresql` (a server a federation shares) */
  backend: BackendName;
  /** embedded: the data directory, or `memory://` to keep nothing on disk */
  path: string;
}

export const DEFAULT_DATABASE_CONFIG: DatabaseConfig = {
  backend: 'embedded',
  path: join(homedir(), '.bigchaindb-data'),
  host: 'localhost',
  port: 5432,
  name: 'bigchain',
};

export async function openDriver(config: DatabaseConfig): Promise<SqlDriver> {
  if (config.backend === 'embedded') return PGliteDriver.open(config.path);
  return new PostgresDriver(config);
}

/**
 * Opens the configured database. With `create` (init, start) a database that does not exist yet is created
 * first: the PostgreSQL database, or the embedded data directory. Without it, a missing embedded data
 * directory is reported rather than created. A database made by an earlier version is upgraded.
 */
export async function openStorage(
  config: DatabaseConfig,
  options: { create?: boolean } = {},
): Promise<Storage> {
  const name = config.backend === 'embedded' ? config.path : config.name;
  if (config.backend === 'postgresql' && options.create) await createDatabaseIfMissing(config);
  const missing = config.path !== IN_MEMORY_PATH && !existsSync(config.path);
  if (config.backend === 'embedded' && !options.create && missing) throw DatabaseDoesNotExist.named(name);
  const storage = new Storage(await openDriver(config), name);
  try {
    await storage.upgrade();
  } catch (error) {
    await storage.close();
    throw error;
  }
  return storage;
}
