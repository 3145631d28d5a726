import { spawn, type ChildProcess } from 'node:child_process';

/**
 * The `bigchaindb` command run from the sources, as node arguments: tsx (by URL, so that it resolves from any
 * working directory), the `development` condition (package.json maps `#crypto` to the sources under it), and
 * the command's entry. test/package/ runs the built package as installed.
 */
export const BIGCHAINDB_ARGS: readonly string[] = [
  '--conditions=development',
  '--import',
  import.meta.resolve('tsx'),
  new URL('../../src/cli/bin.ts', import.meta.url).pathname,
];
/** The repository root (the examples run from there, as `npm run` runs them). */
export const ROOT = new URL('../..', import.meta.url).pathname;

export interface ProcessResult {
  code: number | null;
  /** set when a signal ended the process */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A process while it runs: its output so far. */
export interface RunningProcess {
  child: ChildProcess;
  // Properties, not methods: callers destructure them (`({ child, stderr }) => ...`).
  stdout: () => string;
  stderr: () => string;
}

export interface RunOptions {
  cwd?: string;
  /** the whole environment besides PATH: nothing else is inherited */
  env?: NodeJS.ProcessEnv;
  /** written to stdin, which is then closed */
  input?: string;
  timeoutMs?: number;
  /** runs once the process is spawned; the result waits for both */
  whileRunning?: (running: RunningProcess) => Promise<void>;
}

/** Runs `command` to its end and collects its output. */
export async function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessResult> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.input ?? '');
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (code, signal) => resolve([code, signal])),
  );
  try {
    await options.whileRunning?.({ child, stdout: () => stdout, stderr: () => stderr });
  } catch (error) {
    child.kill('SIGKILL');
    await closed;
    throw error;
  }
  const [code, signal] = await closed;
  return { code, signal, stdout, stderr };
}

/** Runs the `bigchaindb` command as a user would, with only `env` (HOME, BIGCHAINDB_*) and PATH. */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: Omit<RunOptions, 'env'> = {},
): Promise<ProcessResult> {
  return runProcess(process.execPath, [...BIGCHAINDB_ARGS, ...args], { ...options, env });
}

/** Runs a TypeScript file (an example) with tsx from the repository root. */
export function runScript(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessResult> {
  return runProcess(process.execPath, ['--conditions=development', '--import', 'tsx', file, ...args], {
    cwd: ROOT,
    ...options,
  });
}
