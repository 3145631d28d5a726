import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { SqlDriver, SqlSession } from './driver.ts';
import { errorCode } from '../protocol/errors.ts';
import { StorageError } from './errors.ts';
import { processIsAlive } from './process-alive.ts';

/**
 * The earlier embedded engine: PostgreSQL compiled to WebAssembly, running in this process on a data
 * directory. Kept only so that `bigchaindb backup` can read such a directory to move its chain to the
 * embedded PostgreSQL server (docs/storage.md, "Moving from PGlite"); the node never runs on it.
 */
export class PGliteDriver implements SqlDriver {
  private constructor(
    private readonly db: PGlite,
    private readonly lockFile: string,
  ) {}

  /**
   * Opens (creating if needed: the tests make such directories) the data directory. A lock file keeps
   * a second process (a node, or a CLI command while the node runs) from opening the same directory, which
   * would corrupt it: PGlite has no postmaster to arbitrate.
   */
  static async open(path: string): Promise<PGliteDriver> {
    await mkdir(path, { recursive: true });
    const lockFile = lockDataDirectory(path);
    try {
      return new PGliteDriver(await PGlite.create(path), lockFile);
    } catch (error) {
      rmSync(lockFile, { force: true });
      throw error;
    }
  }

  async query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.db.query<Row>(text, [...params])).rows;
  }

  transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) =>
      work({
        query: async <Row>(text: string, params: readonly unknown[] = []) =>
          (await tx.query<Row>(text, [...params])).rows,
      }),
    );
  }

  async exec(script: string): Promise<void> {
    await this.db.exec(script);
  }

  /** In-process: the connection cannot be lost, so onWake only ever follows a NOTIFY. */
  async listen(channel: string, onWake: () => void): Promise<() => Promise<void>> {
    const unlisten = await this.db.listen(channel, () => onWake());
    return () => unlisten();
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
    rmSync(this.lockFile, { force: true });
  }
}

const LOCK_FILE = 'bigchaindb.lock';

/** Creates the lock file holding our pid; takes over one left by a process that no longer runs. */
function lockDataDirectory(path: string): string {
  const lockFile = join(path, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return lockFile;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(lockFile, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && processIsAlive(holder)) {
      throw new StorageError(
        `The embedded database in ${path} is in use by process ${holder} (a running node?). ` +
          'Only one process can open it at a time: stop that process first.',
        { path, pid: holder },
      );
    }
    rmSync(lockFile, { force: true });
  }
  throw new StorageError(`Could not lock the embedded database in ${path}`, { path });
}
