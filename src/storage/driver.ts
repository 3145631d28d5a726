/**
 * The narrow interface between the storage queries and PostgreSQL. The node's driver is a pooled connection
 * to a PostgreSQL server, on either backend (the server the node runs itself, or one a federation shares);
 * PGlite implements it too, only to read a data directory of the earlier embedded engine (pglite-driver.ts).
 * Everything above this file is one set of SQL.
 */

/** `embedded`: a server the node runs itself on `database.path`; `postgresql`: a server it is given */
export type BackendName = 'embedded' | 'postgresql';

/** Something that runs one parameterised statement: the driver itself, or a transaction in progress. */
export interface SqlSession {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface SqlDriver extends SqlSession {
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
