import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/protocol/crypto.ts';
import { logRecord } from './log-records.ts';
import { BIGCHAINDB_ARGS } from './processes.ts';
import { waitFor } from './wait.ts';

const READY = /^Starting BigchainDB main process/;
const LISTENING = /^Listening to client connections on: (\S+)$/;

/** `bigchaindb start` running as its own process, as an operator would run it. */
export interface NodeProcess {
  readonly keyPair: KeyPair;
  readonly child: ChildProcess;
  /** its HTTP API, e.g. http://127.0.0.1:40123/api/v1 */
  readonly apiUrl: string;
  /** every line it logged so far: JSON log events (see logRecord), and anything else it wrote */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** SIGTERM (a clean stop) or SIGKILL (a crash), then wait for the exit */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface NodeProcessOptions {
  dir: string;
  keyPair: KeyPair;
  keyring: readonly string[];
  /** the config's `database` section */
  database: Record<string, unknown>;
  /** extra top-level settings (backlog_reassign_delay, block_timeout, ...) */
  settings?: Record<string, unknown>;
}

/** Writes the node's config file and starts it; resolves once its pipelines run. */
export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const { keyPair } = options;
  const configPath = join(options.dir, `node-${keyPair.publicKey.slice(0, 8)}.json`);
  const config = {
    keypair: { public: keyPair.publicKey, private: keyPair.privateKey },
    keyring: options.keyring.filter((key) => key !== keyPair.publicKey),
    database: options.database,
    server: { bind: '127.0.0.1:0' },
    // Each request is a DEBUG line: tests read them.
    log: { level: 'debug' },
    ...options.settings,
  };
  await writeFile(configPath, JSON.stringify(config));
  const child = spawn(process.execPath, [...BIGCHAINDB_ARGS, '-c', configPath, 'start'], {
    // From its own directory, as an operator would run it: nothing may depend on the repository being the cwd.
    cwd: options.dir,
    env: { PATH: process.env.PATH, HOME: options.dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  try {
    await waitFor(
      `node ${keyPair.publicKey.slice(0, 8)} to start`,
      async () => {
        if (exitCode !== undefined) throw new Error(`the node exited (${exitCode}):\n${lines.join('\n')}`);
        return lines.some((line) => READY.test(logRecord(line)?.msg ?? ''));
      },
      { timeoutMs: 60_000 },
    );
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  const listening = lines
    .map((line) => LISTENING.exec(logRecord(line)?.msg ?? '')?.[1])
    .find((url) => url !== undefined);
  return {
    keyPair,
    apiUrl: listening ?? '',
    child,
    lines,
    exited,
    async stop(signal = 'SIGTERM') {
      if (exitCode === undefined) child.kill(signal);
      return exited;
    },
  };
}

/** One node alone on an embedded database in `dir/data`: the setup of the API, driver and example tests. */
export function startLoneNode(dir: string, blockTimeout = 0.2): Promise<NodeProcess> {
  return startNodeProcess({
    dir,
    keyPair: generateKeyPair(),
    keyring: [],
    database: { backend: 'embedded', path: join(dir, 'data') },
    settings: { block_timeout: blockTimeout },
  });
}
