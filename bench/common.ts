/**
 * What the node benchmarks share: node processes, the raw verify rate and signature cost, percentiles,
 * process statistics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { Fulfillment, type Ed25519Fulfillment } from '../src/protocol/cc/index.ts';
import {
  generateKeyPair,
  signMessage,
  timestamp,
  verifyMessage,
  type KeyPair,
} from '../src/protocol/crypto.ts';
import {
  createInputCondition,
  serializeFulfillmentMessage,
  type Transaction,
} from '../src/protocol/transaction.ts';
import { VerifyPool } from '../src/node/verify-pool.ts';
import { freePort } from '../test/support/ports.ts';
import { BIGCHAINDB_ARGS } from '../test/support/processes.ts';
import { startPostgres, type PostgresServer } from '../test/support/postgres.ts';

/** Linux reports process CPU time in clock ticks of 1/100 s. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Timed rounds of signatureCostPerCore, after one that warms up (JIT, key caches); the median is kept. */
const SIGNATURE_ROUNDS = 3;

/**
 * A throwaway PostgreSQL server as durable as a production one (fsync and full-page writes on), and the
 * node configuration's `database` section for it.
 */
export async function startBenchPostgres(): Promise<{
  server: PostgresServer;
  database: Record<string, unknown>;
}> {
  const server = await startPostgres({ settings: { fsync: 'on', full_page_writes: 'on' } });
  const database = {
    backend: 'postgresql',
    host: server.host,
    port: server.port,
    name: 'bench',
    user: server.user,
  };
  return { server, database };
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Signature checks per second of these transactions on a worker pool of one thread per core. */
export async function rawVerifyRate(txs: readonly Transaction[]): Promise<number> {
  const pool = new VerifyPool(availableParallelism());
  try {
    const jobs = txs.map((tx) => ({
      tx,
      inputConditions: tx.transaction.fulfillments.map((f) => createInputCondition(f)!),
      now: timestamp(),
    }));
    await pool.verify(jobs.slice(0, 200)); // warm the workers
    const started = performance.now();
    await pool.verify(jobs);
    return jobs.length / ((performance.now() - started) / 1000);
  } finally {
    await pool.close();
  }
}

/** node:crypto time of one Ed25519 operation on one core, as the node calls it (µs). */
export interface SignatureCost {
  /** verifying a client's signature (the node's KeyObject cache warm, as for its recurring clients) */
  verifyUs: number;
  /** the node signing a message of the same size (its CREATE of a client's CREATE) */
  signUs: number;
}

/**
 * The signatures of these transactions (their first fulfillments) verified, and their messages signed by a
 * node key, on this thread: one core. Messages are serialized beforehand, so only the crypto is timed.
 */
export function signatureCostPerCore(txs: readonly Transaction[]): SignatureCost {
  const nodeKey = generateKeyPair().privateKey;
  const jobs = txs.map((tx) => {
    const entry = tx.transaction.fulfillments[0]!;
    const fulfillment = Fulfillment.fromUri(entry.fulfillment!) as Ed25519Fulfillment;
    return {
      message: Buffer.from(serializeFulfillmentMessage(tx, entry)),
      signature: fulfillment.signature!,
      publicKey: fulfillment.publicKey!,
    };
  });
  const verifyUs: number[] = [];
  const signUs: number[] = [];
  for (let round = 0; round <= SIGNATURE_ROUNDS; round++) {
    const started = performance.now();
    for (const job of jobs)
      if (!verifyMessage(job.message, job.signature, job.publicKey))
        throw new Error('a benchmark signature does not verify');
    const verified = performance.now();
    for (const job of jobs) signMessage(job.message, nodeKey);
    const signed = performance.now();
    if (round === 0) continue;
    verifyUs.push(((verified - started) * 1000) / jobs.length);
    signUs.push(((signed - verified) * 1000) / jobs.length);
  }
  const ascending = (a: number, b: number) => a - b;
  return {
    verifyUs: percentile(verifyUs.sort(ascending), 50),
    signUs: percentile(signUs.sort(ascending), 50),
  };
}

/** CPU seconds used so far and peak resident memory of a process (Linux /proc). */
export interface ProcessStats {
  cpuSeconds: number;
  peakRssMiB: number;
}

interface ProcEntry {
  ppid: number;
  /** its own CPU ticks */
  ticks: number;
  /** CPU ticks of its children that have exited */
  reapedTicks: number;
}

function procEntry(pid: number): ProcEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): ppid, then utime, stime, cutime, cstime.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
      reapedTicks: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * CPU seconds used so far by a process and all its descendants (a node's HTTP API workers, PostgreSQL's
 * backends), those that exited included as far as their parents reaped them (a PostgreSQL backend that
 * ends is in the postmaster's cutime/cstime), and the process's own peak resident memory.
 */
export function processStats(pid: number): ProcessStats {
  const entries = new Map<number, ProcEntry>();
  const childrenOf = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const entry = procEntry(Number(name));
    if (entry === undefined) continue;
    entries.set(Number(name), entry);
    const siblings = childrenOf.get(entry.ppid);
    if (siblings === undefined) childrenOf.set(entry.ppid, [Number(name)]);
    else siblings.push(Number(name));
  }
  let ticks = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.pop()!;
    const entry = entries.get(next);
    if (entry === undefined) continue;
    ticks += entry.ticks + entry.reapedTicks;
    queue.push(...(childrenOf.get(next) ?? []));
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, peakRssMiB: peakKiB / 1024 };
}

/** The postmaster of the PostgreSQL server running on `dataDir`. */
export function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** `bigchaindb start` as its own process, started from `dir` with a config file written there. */
export interface BenchNode {
  readonly keyPair: KeyPair;
  readonly child: ChildProcess;
  /** the node's HTTP server, e.g. http://127.0.0.1:40123 (its API under /api/v1, its metrics at /metrics) */
  readonly url: string;
  /** its HTTP API, e.g. http://127.0.0.1:40123/api/v1 */
  readonly apiUrl: string;
  stop(): Promise<void>;
}

const READY_POLL_MS = 100;
const START_TIMEOUT_MS = 120_000;

/**
 * Starts one node per key, each with the others in its keyring, and resolves once all answer `GET /api/v1`.
 * `settings.server` is merged into each node's `server` section, whose `bind` is a free port.
 */
export async function startBenchNodes(
  keys: readonly KeyPair[],
  dir: string,
  settings: Record<string, unknown>,
  nodeArgs: readonly string[] = [],
): Promise<BenchNode[]> {
  return Promise.all(
    keys.map(async (keyPair, i) => {
      const configPath = join(dir, `node-${i}.json`);
      const port = await freePort();
      const config = {
        keypair: { public: keyPair.publicKey, private: keyPair.privateKey },
        keyring: keys.filter((key) => key !== keyPair).map((key) => key.publicKey),
        ...settings,
        server: { ...(settings.server as object | undefined), bind: `127.0.0.1:${port}` },
      };
      await writeFile(configPath, JSON.stringify(config));
      const child = spawn(process.execPath, [...nodeArgs, ...BIGCHAINDB_ARGS, '-c', configPath, 'start'], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let exited = false;
      const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      void exit.then(() => (exited = true));
      // The last lines the node wrote, shown if it does not start.
      const tail: string[] = [];
      createInterface({ input: child.stderr }).on('line', (line) => {
        tail.push(line);
        if (tail.length > 50) tail.shift();
      });
      const url = `http://127.0.0.1:${port}`;
      const deadline = performance.now() + START_TIMEOUT_MS;
      for (;;) {
        if (exited) throw new Error(`node ${i} exited:\n${tail.join('\n')}`);
        if (performance.now() > deadline) throw new Error(`node ${i} did not answer:\n${tail.join('\n')}`);
        const answered = await fetch(`${url}/api/v1`).then(
          (response) => response.ok,
          () => false,
        );
        if (answered) break;
        await delay(READY_POLL_MS);
      }
      return {
        keyPair,
        child,
        url,
        apiUrl: `${url}/api/v1`,
        async stop() {
          child.kill('SIGTERM');
          await exit;
        },
      };
    }),
  );
}

/**
 * The value of a counter or gauge in Prometheus text (`GET /metrics`), the sample whose labels include
 * `labels`; 0 when there is none.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const present = (match[2] ?? '').split(',');
    if (wanted.every((pair) => present.includes(pair))) return Number(match[3]);
  }
  return 0;
}
