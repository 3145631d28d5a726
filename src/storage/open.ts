import { homedir } from 'node:os';
import { join } from 'node:path';
import type { BackendName, SqlDriver } from './driver.ts';
import { PGliteDriver } from './pglite-driver.ts';
import { createDatabaseIfMissing, PostgresDriver } from './postgres-driver.ts';
import { Storage } from './storage.ts';

/** The `database` section of the node configuration. */
export interface DatabaseConfig {
  /** `embedded` (PGlite in this process, the default) or `postgresql` (a server a federation shares) */
  backend: BackendName;
  /** embedded: the data directory, or `memory://` to keep nothing on disk */
  path: string;
  /** postgresql: where the server is and which database to use */
  host: string;
  port: number;
  name: string;
  user?: string;
  password?: string;
  /** postgresql: pooled connections per node process */
  poolSize?: number;
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
 * Opens the configured database. With `create`, a PostgreSQL database that does not exist yet is created
 * first (for `init`); the embedded data directory is always created on demand.
 */
export async function openStorage(
  config: DatabaseConfig,
  options: { create?: boolean } = {},
): Promise<Storage> {
  if (config.backend === 'postgresql' && options.create) await createDatabaseIfMissing(config);
  const name = config.backend === 'embedded' ? config.path : config.name;
  return new Storage(await openDriver(config), name);
}
