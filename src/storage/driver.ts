/**
 * The narrow interface between the storage queries and a PostgreSQL engine. Two drivers implement it:
 * PGlite in-process (the embedded default) and a pooled connection to a PostgreSQL server. Everything above
 * this file is one set of SQL, whichever driver runs it.
 */

export type BackendName = 'embedded' | 'postgresql';

/** Something that runs one parameterised statement: the driver itself, or a transaction in progress. */
export interface SqlSession {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface SqlDriver extends SqlSession {
  readonly backend: BackendName;
  /** Runs work inside BEGIN … COMMIT on one connection; any throw rolls back and is rethrown. */
  transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (schema changes). */
  exec(script: string): Promise<void>;
  /**
   * Calls onWake for each NOTIFY on the channel, and also after a lost connection has been re-established,
   * since notifications sent meanwhile are gone: the listener must catch up by querying.
   */
  listen(channel: string, onWake: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
