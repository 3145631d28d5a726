import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { SqlDriver, SqlSession } from './driver.ts';

/** `database.path` value that keeps the embedded database in memory only (tests, throwaway nodes). */
export const IN_MEMORY_PATH = 'memory://';

/**
 * The embedded backend: PostgreSQL compiled to WebAssembly, running in this process on a data directory.
 * It serves one statement at a time, so callers batch their work; a transaction holds it exclusively.
 */
export class PGliteDriver implements SqlDriver {
  readonly backend = 'embedded';

  private constructor(private readonly db: PGlite) {}

  /** Opens (creating if needed) the data directory; IN_MEMORY_PATH keeps nothing on disk. */
  static async open(path: string): Promise<PGliteDriver> {
    if (path !== IN_MEMORY_PATH) await mkdir(path, { recursive: true });
    return new PGliteDriver(await PGlite.create(path === IN_MEMORY_PATH ? undefined : path));
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
  }
}
