import pg from 'pg';
import { errorCode } from '../protocol/errors.ts';
import type { SqlDriver, SqlSession } from './driver.ts';

export interface PostgresConnection {
  host: string;
  port: number;
  /** the database (`database.name`) */
  name: string;
  /** null or absent: the PostgreSQL client's defaults (PGUSER, the OS user) */
  user?: string | null;
  password?: string | null;
  /** pooled connections for queries; the changefeed listener has one more of its own */
  poolSize?: number;
}

const DUPLICATE_DATABASE = '42P04';
const UNIQUE_VIOLATION = '23505';
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2_000;

function clientConfig(connection: PostgresConnection, applicationName: string): pg.ClientConfig {
  return {
    host: connection.host,
    port: connection.port,
    database: connection.name,
    ...(connection.user === undefined || connection.user === null ? {} : { user: connection.user }),
    ...(connection.password === undefined || connection.password === null
      ? {}
      : { password: connection.password }),
    application_name: applicationName,
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A PostgreSQL server shared by the nodes of a federation, reached through a connection pool. */
export class PostgresDriver implements SqlDriver {
  private readonly pool: pg.Pool;
  private readonly listener: Listener;
  private closed = false;

  /** `onClose`: what closing the driver also ends (the embedded backend's server) */
  constructor(
    connection: PostgresConnection,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {
    this.pool = new pg.Pool({ ...clientConfig(connection, 'bigchaindb'), max: connection.poolSize ?? 8 });
    // An idle pooled connection that dies (server restart) is dropped by the pool; the next query opens a
    // new one. Without a handler the 'error' event would crash the process.
    this.pool.on('error', () => {});
    this.listener = new Listener(clientConfig(connection, 'bigchaindb changefeed'));
  }

  async query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.pool.query({ text, values: [...params] })).rows as Row[];
  }

  async transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const session: SqlSession = {
        query: async <Row>(text: string, params: readonly unknown[] = []) =>
          (await client.query({ text, values: [...params] })).rows as Row[],
      };
      const result = await work(session);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      // A connection that could not even roll back is unusable: destroy it rather than return it.
      client.release(broken);
    }
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  listen(channel: string, onWake: () => void): Promise<() => Promise<void>> {
    return this.listener.add(channel, onWake);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.pool.end();
    await this.onClose();
  }
}

/**
 * One dedicated connection that LISTENs on every subscribed channel. When it is lost it reconnects with
 * backoff, re-subscribes, and wakes every subscriber so each can catch up on what it missed.
 */
class Listener {
  private readonly subscribers = new Map<string, Set<() => void>>();
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private commands: Promise<void> = Promise.resolve();

  constructor(private readonly config: pg.ClientConfig) {}

  async add(channel: string, onWake: () => void): Promise<() => Promise<void>> {
    let callbacks = this.subscribers.get(channel);
    const isNewChannel = callbacks === undefined;
    callbacks ??= new Set();
    callbacks.add(onWake);
    this.subscribers.set(channel, callbacks);
    const client = await this.connected();
    if (isNewChannel) await this.command(client, `LISTEN ${quoteIdentifier(channel)}`);
    return async () => {
      callbacks.delete(onWake);
      if (callbacks.size > 0 || this.subscribers.get(channel) !== callbacks) return;
      this.subscribers.delete(channel);
      const current = this.client;
      if (current !== undefined)
        await this.command(current, `UNLISTEN ${quoteIdentifier(channel)}`).catch(() => {});
    };
  }

  /** One statement at a time on the listening connection (pg deprecates overlapping queries on a client). */
  private command(client: pg.Client, sql: string): Promise<void> {
    const next = this.commands.then(async () => {
      await client.query(sql);
    });
    this.commands = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private connected(): Promise<pg.Client> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.config);
    client.on('notification', (message) => this.wake(message.channel));
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    await client.connect();
    for (const channel of this.subscribers.keys())
      await this.command(client, `LISTEN ${quoteIdentifier(channel)}`);
    this.client = client;
    this.reconnectDelay = RECONNECT_MIN_MS;
    return client;
  }

  private wake(channel: string): void {
    for (const onWake of this.subscribers.get(channel) ?? []) onWake();
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.connected().then(
        () => {
          for (const channel of this.subscribers.keys()) this.wake(channel);
        },
        () => {
          this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
          this.scheduleReconnect();
        },
      );
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }
}

/** CREATE DATABASE unless it exists (as RethinkDB's init did); needs the CREATEDB privilege. */
export async function createDatabaseIfMissing(connection: PostgresConnection): Promise<boolean> {
  const client = new pg.Client({ ...clientConfig(connection, 'bigchaindb init'), database: 'postgres' });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [connection.name]);
    if (existing.rowCount === 1) return false;
    try {
      await client.query(`CREATE DATABASE ${quoteIdentifier(connection.name)}`);
    } catch (error) {
      // Another node of the federation created it since our check (a concurrent CREATE DATABASE fails on
      // the catalog's unique index rather than with duplicate_database).
      const code = errorCode(error);
      if (code === DUPLICATE_DATABASE || code === UNIQUE_VIOLATION) return false;
      throw error;
    }
    return true;
  } finally {
    await client.end();
  }
}
