import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chown, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StorageError } from './errors.ts';

/**
 * A PostgreSQL server this process runs itself, from the server binaries installed on the machine: for
 * `bigchaindb start --experimental-start-postgresql` and the test harness. As root, every server-side tool
 * runs as the `postgres` OS user (PostgreSQL refuses root).
 */

export const POSTGRES_SUPERUSER = 'postgres';
export const POSTGRES_READY_TIMEOUT_MS = 30_000;
const DEBIAN_INSTALL_ROOT = '/usr/lib/postgresql';
const execFileAsync = promisify(execFile);

/** Directory holding initdb/postgres/pg_ctl: the newest Debian-style install, else what pg_config reports. */
export function findPostgresBin(): string | undefined {
  return newestDebianBin() ?? pgConfigBin();
}

export function requirePostgresBin(): string {
  const bin = findPostgresBin();
  if (bin === undefined) {
    throw new StorageError(
      `PostgreSQL server binaries not found (looked in ${DEBIAN_INSTALL_ROOT}/*/bin and \`pg_config --bindir\`). ` +
        'Install the `postgresql` package, e.g. `apt-get install -y postgresql`.',
    );
  }
  return bin;
}

function newestDebianBin(): string | undefined {
  if (!existsSync(DEBIAN_INSTALL_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_INSTALL_ROOT)
    .filter((version) => hasServerBinaries(join(DEBIAN_INSTALL_ROOT, version, 'bin')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] === undefined ? undefined : join(DEBIAN_INSTALL_ROOT, versions[0], 'bin');
}

function pgConfigBin(): string | undefined {
  try {
    const bin = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: 'pipe' }).trim();
    return hasServerBinaries(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** pg_config also ships with the client-only packages, so check for the server itself. */
function hasServerBinaries(bin: string): boolean {
  return ['initdb', 'pg_ctl', 'postgres'].every((name) => existsSync(join(bin, name)));
}

const runningAsRoot = (): boolean => process.getuid?.() === 0;

function asPostgresUser(command: string, args: readonly string[]): [string, string[]] {
  return runningAsRoot()
    ? ['runuser', ['-u', POSTGRES_SUPERUSER, '--', command, ...args]]
    : [command, [...args]];
}

export async function runPostgresTool(
  bin: string,
  tool: string,
  args: readonly string[],
  cwd: string,
): Promise<void> {
  const [command, argv] = asPostgresUser(join(bin, tool), args);
  await execFileAsync(command, argv, { cwd, timeout: 2 * POSTGRES_READY_TIMEOUT_MS });
}

export function runPostgresToolSync(bin: string, tool: string, args: readonly string[]): void {
  const [command, argv] = asPostgresUser(join(bin, tool), args);
  execFileSync(command, argv, { stdio: 'ignore', timeout: POSTGRES_READY_TIMEOUT_MS });
}

/** As root, hands a directory to the postgres OS user, so the server can create its files in it. */
export async function giveToPostgresUser(dir: string): Promise<void> {
  if (!runningAsRoot()) return;
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

/** A server started on `dir` (created and initialised on first use) for the node; stop() shuts it down. */
export interface LocalPostgres {
  host: string;
  port: number;
  user: string;
  /**
   * `created`: initialised and started now; `started`: an existing cluster started now; `adopted`: already
   * running on `port` (left by a start that was killed before it could stop it), used and stopped as ours
   */
  state: 'created' | 'started' | 'adopted';
  stop(): Promise<void>;
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
