/**
 * End to end through the HTTP API, as clients see a node: pre-built signed transactions are POSTed with a
 * fixed number of concurrent connections, and timed until they are in blocks decided valid.
 *
 * Scenarios: `embedded-1` (one `bigchaindb start` process on the embedded backend: the PostgreSQL server the
 * node runs itself on its own data dir), `postgresql-1` and `postgresql-3` (one or three node processes
 * sharing a durable PostgreSQL server started here). For each:
 *   1. the raw Ed25519 verify rate of the same machine, right before, on one worker thread per core; and the
 *      crypto ceiling: node:crypto µs on one core to verify a client's signature and to sign as the node, so
 *      a CREATE costs one signature plus one verify per node (the node that admits it checks the client's
 *      signature, every other node the node's when it votes) and a TRANSFER one verify per node; the
 *      ceiling is cores × 1e6 / those µs, against which the decided rates are put;
 *   2. CREATE throughput: `--count` client CREATEs POSTed by `--concurrency` connections; tx/s accepted
 *      (201 answers) and decided (in blocks decided valid), POST → valid latency of a `--sample` of them;
 *   3. TRANSFER chains: `--chains` assets from step 2 each handed on `--hops` times, every hop POSTed once the
 *      previous one is valid (its input must be in a valid block);
 *   4. independent TRANSFERs: `--transfers` other assets from step 2, each spent once, all POSTed as in step 2;
 *   5. latency at a fixed offered load of `--levels` percent (default 25, 50, 75) of step 2's decided rate,
 *      `--load-seconds` each.
 * CPU time and peak memory are reported for every process (the node processes with their HTTP API workers,
 * the PostgreSQL server with all its processes, and this client), and the server CPU per decided
 * transaction: node processes and PostgreSQL together, from a step's first POST until all its transactions
 * are decided valid, divided by the transactions decided.
 *
 * `--statsd-compare` runs each scenario twice: with StatsD off (`statsd.host` empty), then with every process of
 * every node sending at rate 1 to a UDP sink in this process; it prints the decided rates and server CPU of
 * both, and the packets the sink received.
 *
 * `--scaling` runs each scenario twice, with this process pinned to CPU 0 and then to CPUs 0 and 1 (taskset);
 * the node processes and PostgreSQL inherit that affinity, and the client is pinned alike.
 *
 * When is a transaction valid? Every 20 ms the client reads each node's `GET /metrics`: the decided count is
 * the sum over the nodes of `bigchaindb_block_transactions_decided_total{result="valid"}` (each block is
 * counted by the one node that recorded its election). For latencies, whenever that count grows the client
 * asks `GET /transactions/{id}/status` for the sampled transactions still pending (oldest first, and
 * stopping after 64 in a row are not valid yet), reading the metrics again before each group of questions;
 * a transaction found valid is timed at the latest growth seen before the answer.
 *
 *   npm run bench -- [--scenarios embedded-1,postgresql-1,postgresql-3] [--count 20000] [--concurrency 256]
 *                    [--sample 0.1] [--chains 500] [--hops 4] [--levels 25,50,75] [--load-seconds 10]
 *                    [--transfers N]     (default: the CREATEs not used by chains, at most 5,000)
 *                    [--scaling]         (each scenario on CPU 0, then on CPUs 0,1)
 *                    [--statsd-compare]  (each scenario with StatsD off, then on at rate 1)
 *                    [--api-workers N]   (server.workers of every node; default: the node's own, one per core)
 *                    [--profile DIR]     (CPU profiles of the node processes, node --cpu-prof)
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { generateKeyPair, type KeyPair } from '../src/protocol/crypto.ts';
import { createAndSignTx, lookupInTransactions, type Transaction } from '../src/protocol/transaction.ts';
import {
  metricValue,
  percentile,
  startBenchPostgres,
  postmasterPid,
  processStats,
  rawVerifyRate,
  signatureCostPerCore,
  startBenchNodes,
  type BenchNode,
  type ProcessStats,
  type SignatureCost,
} from './common.ts';

const SCENARIOS = ['embedded-1', 'postgresql-1', 'postgresql-3'] as const;
type ScenarioName = (typeof SCENARIOS)[number];
const CLIENT_KEYS = 100;
const STATUS_CHECKS_IN_PARALLEL = 32;
/** Sampled transactions in a row found not yet valid after which a status sweep stops. */
const SWEEP_STOP_AFTER = 64;
const METRICS_POLL_MS = 20;
const PHASE_TIMEOUT_MS = 10 * 60_000;
const OPEN_LOOP_TICK_MS = 10;
const MAX_IN_FLIGHT = 2_000;
const TARGETS = { oneNode: 4_000, threeNodes: 2_000, p95AtHalfLoadMs: 1_500 };
/** Independent TRANSFERs when --transfers is not given: the CREATEs the chains leave, at most this many. */
const DEFAULT_TRANSFERS = 5_000;
/** Client CREATEs whose signatures signatureCostPerCore times. */
const SIGNATURE_COST_SAMPLE = 2_000;
/** --scaling: the CPU lists (taskset -c) of the two runs of each scenario. */
const SCALING_CPUS = ['0', '0,1'] as const;

interface Options {
  scenarios: ScenarioName[];
  count: number;
  concurrency: number;
  sample: number;
  chains: number;
  hops: number;
  /** independent TRANSFERs, each spending another CREATE of the throughput step */
  transfers: number;
  levels: number[];
  loadSeconds: number;
  /** server.workers of every node (0: the API in the node process); undefined: the node's default */
  apiWorkers?: number;
  /** each scenario pinned to SCALING_CPUS in turn */
  scaling: boolean;
  /** each scenario with StatsD off, then on (rate 1, to a sink here) */
  statsdCompare: boolean;
  /** where the node processes write CPU profiles (node --cpu-prof) */
  profileDir?: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      count: { type: 'string', default: '20000' },
      concurrency: { type: 'string', default: '256' },
      sample: { type: 'string', default: '0.1' },
      chains: { type: 'string', default: '500' },
      hops: { type: 'string', default: '4' },
      transfers: { type: 'string' },
      levels: { type: 'string', default: '25,50,75' },
      'load-seconds': { type: 'string', default: '10' },
      'api-workers': { type: 'string' },
      scaling: { type: 'boolean', default: false },
      'statsd-compare': { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
  });
  const whole = (name: string, text: string, min: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
    return value;
  };
  const scenarios = values.scenarios.split(',') as ScenarioName[];
  for (const scenario of scenarios)
    if (!SCENARIOS.includes(scenario))
      throw new Error(`unknown scenario ${scenario}: use ${SCENARIOS.join(', ')}`);
  const sample = Number(values.sample);
  if (!(sample > 0 && sample <= 1)) throw new Error('--sample must be in (0, 1]');
  const count = whole('count', values.count, 100);
  const chains = whole('chains', values.chains, 0);
  if (chains > count) throw new Error('--chains must not exceed --count');
  const transfers =
    values.transfers === undefined
      ? Math.min(DEFAULT_TRANSFERS, count - chains)
      : whole('transfers', values.transfers, 0);
  if (chains + transfers > count) throw new Error('--chains plus --transfers must not exceed --count');
  if (values.scaling && availableParallelism() < SCALING_CPUS.length)
    throw new Error(
      `--scaling needs ${SCALING_CPUS.length} CPUs, this process has ${availableParallelism()}`,
    );
  return {
    scenarios,
    count,
    concurrency: whole('concurrency', values.concurrency, 1),
    sample,
    chains,
    hops: whole('hops', values.hops, 1),
    transfers,
    levels: values.levels
      .split(',')
      .filter(Boolean)
      .map((level) => whole('levels', level, 1)),
    loadSeconds: whole('load-seconds', values['load-seconds'], 1),
    ...(values['api-workers'] === undefined
      ? {}
      : { apiWorkers: whole('api-workers', values['api-workers'], 0) }),
    scaling: values.scaling,
    statsdCompare: values['statsd-compare'],
    ...(values.profile === undefined ? {} : { profileDir: values.profile }),
  };
}

// --- the HTTP client --------------------------------------------------------------------------------------

interface Answer {
  status: number;
  text: string;
}

class HttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly prefix: string;

  constructor(apiUrl: string, connections: number) {
    const url = new URL(apiUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.prefix = url.pathname.replace(/\/$/, '');
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  }

  request(method: 'GET' | 'POST', path: string, body?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers =
        body === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = http.request(
        { host: this.host, port: this.port, path: this.prefix + path, method, agent: this.agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The server closed an idle keep-alive connection as it was reused: send again on a fresh one
        // (a POST sent twice is answered 200, already waiting).
        if (req.reusedSocket && error.code === 'ECONNRESET')
          this.request(method, path, body).then(resolve, reject);
        else reject(error);
      });
      req.end(body);
    });
  }

  post(body: string): Promise<Answer> {
    return this.request('POST', '/transactions/', body);
  }

  async status(id: string): Promise<string | undefined> {
    const answer = await this.request('GET', `/transactions/${id}/status`);
    return answer.status === 200 ? (JSON.parse(answer.text) as { status: string }).status : undefined;
  }

  close(): void {
    this.agent.destroy();
  }
}

// --- when transactions become valid ---------------------------------------------------------------------

interface Pending {
  id: string;
  postedAt: number;
  resolve?: () => void;
}

/**
 * Follows the nodes' metrics: transactions in blocks decided valid. Whenever the count grows it sweeps the
 * pending sampled transactions with status requests and times the valid ones at the latest growth seen.
 */
class Decisions {
  /** transactions in blocks decided valid so far */
  decided = 0;
  lastDecisionAt = 0;
  private pending: Pending[] = [];
  readonly latencies: number[] = [];
  private sweeping = false;
  private sweepAgain = false;
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  /** asks the statuses; set once the nodes run */
  client: HttpClient | undefined;

  /** Reads the metrics of `nodes` every 20 ms until `stop`. */
  follow(nodes: readonly BenchNode[]): void {
    this.nodes = nodes;
    const tick = () => {
      void this.poll().finally(() => {
        if (this.nodes.length > 0) this.timer = setTimeout(tick, METRICS_POLL_MS);
      });
    };
    tick();
  }

  stop(): void {
    this.nodes = [];
    clearTimeout(this.timer);
  }

  private nodes: readonly BenchNode[] = [];

  /** One reading of every node's metrics (a reading under way is shared). */
  private poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const texts = await Promise.all(
          this.nodes.map((node) => fetch(`${node.url}/metrics`).then((response) => response.text())),
        );
        const decided = texts.reduce(
          (sum, text) =>
            sum + metricValue(text, 'bigchaindb_block_transactions_decided_total', { result: 'valid' }),
          0,
        );
        if (decided > this.decided) this.grew(decided);
      } catch {
        // A node stopping; the next reading tells.
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  private grew(decided: number): void {
    this.decided = decided;
    this.lastDecisionAt = performance.now();
    for (const waiter of this.waiters.filter((w) => this.decided >= w.count)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    void this.sweep();
  }

  /** Times `id` (posted at `postedAt`) when it is valid; the promise resolves then. */
  track(id: string, postedAt: number): Promise<void> {
    return new Promise((resolve) => this.pending.push({ id, postedAt, resolve }));
  }

  /** Resolves once `count` transactions in all are in blocks decided valid. */
  async until(count: number): Promise<void> {
    if (this.decided >= count) return;
    await withTimeout(
      new Promise<void>((resolve) => this.waiters.push({ count, resolve })),
      `${count} decided`,
    );
  }

  /** Resolves once every tracked transaction was found valid. */
  async allTracked(): Promise<void> {
    const deadline = performance.now() + PHASE_TIMEOUT_MS;
    while (this.pending.length > 0) {
      if (performance.now() > deadline)
        throw new Error(`${this.pending.length} sampled transactions never became valid`);
      await delay(50);
      if (!this.sweeping && this.pending.length > 0) void this.sweep();
    }
  }

  takeLatencies(): number[] {
    return this.latencies.splice(0).sort((a, b) => a - b);
  }

  private async sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = true;
    do {
      this.sweepAgain = false;
      // Those pending now; later ones wait for the next sweep.
      const round = this.pending.slice();
      let notValidInARow = 0;
      const found = new Map<Pending, number>();
      for (let i = 0; i < round.length && notValidInARow < SWEEP_STOP_AFTER; i += STATUS_CHECKS_IN_PARALLEL) {
        const chunk = round.slice(i, i + STATUS_CHECKS_IN_PARALLEL);
        // Read right before the questions: a transaction valid in the answers was decided by then or soon after.
        await this.poll();
        const validSince = this.lastDecisionAt;
        const statuses = await Promise.all(chunk.map((entry) => this.client!.status(entry.id)));
        for (const [j, entry] of chunk.entries()) {
          if (statuses[j] === 'valid') {
            found.set(entry, Math.max(validSince, entry.postedAt));
            notValidInARow = 0;
          } else notValidInARow++;
        }
      }
      this.pending = this.pending.filter((entry) => !found.has(entry));
      for (const [entry, validAt] of found) {
        this.latencies.push(validAt - entry.postedAt);
        entry.resolve?.();
      }
    } while (this.sweepAgain);
    this.sweeping = false;
  }
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), PHASE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// --- scenarios ------------------------------------------------------------------------------------------

/** A UDP socket on 127.0.0.1 that counts the StatsD packets and lines it receives. */
async function statsdSink(): Promise<{
  port: number;
  counts: { packets: number; lines: number };
  close(): void;
}> {
  const socket = dgram.createSocket('udp4');
  const counts = { packets: 0, lines: 0 };
  socket.on('message', (packet) => {
    counts.packets++;
    counts.lines += packet.toString('utf8').split('\n').filter(Boolean).length;
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, counts, close: () => socket.close() };
}

interface Federation {
  nodes: BenchNode[];
  /** the PostgreSQL server's postmaster, when there is one */
  postgresPid?: number;
  description: string;
  close(): Promise<void>;
}

async function startFederation(
  name: ScenarioName,
  options: Options,
  statsd: StatsdRun | undefined,
): Promise<Federation> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-http-'));
  const nodeArgs =
    options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`];
  const workers = {
    ...(options.apiWorkers === undefined ? {} : { server: { workers: options.apiWorkers } }),
    ...(statsd === undefined ? {} : { statsd: statsd.settings }),
  };
  const workersText = options.apiWorkers === undefined ? '' : `, server.workers ${options.apiWorkers}`;
  if (name === 'embedded-1') {
    const path = join(dir, 'data');
    const nodes = await startBenchNodes(
      [generateKeyPair()],
      dir,
      { database: { backend: 'embedded', path }, ...workers },
      nodeArgs,
    );
    return {
      nodes,
      // Started by the node, but not its child: pg_ctl's postmaster is reparented once pg_ctl exits.
      postgresPid: postmasterPid(join(path, 'pgdata')),
      description:
        '1 `bigchaindb start` process on the embedded backend: the durable PostgreSQL server the node runs itself (on-disk data dir, Unix socket)' +
        workersText,
      async close() {
        await Promise.all(nodes.map((node) => node.stop()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const count = name === 'postgresql-3' ? 3 : 1;
  const { server, database } = await startBenchPostgres();
  const keys = Array.from({ length: count }, generateKeyPair);
  const nodes = await startBenchNodes(keys, dir, { database, ...workers }, nodeArgs);
  return {
    nodes,
    postgresPid: postmasterPid(server.dataDir),
    description:
      `${count} \`bigchaindb start\` process${count > 1 ? 'es' : ''} sharing a durable PostgreSQL 18 server (fsync on)` +
      workersText,
    async close() {
      await Promise.all(nodes.map((node) => node.stop()));
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Client CREATEs, signed by one of `keys` each, serialized once. */
function clientCreates(
  keys: readonly KeyPair[],
  count: number,
  label: string,
): { txs: Transaction[]; bodies: string[] } {
  const txs = Array.from({ length: count }, (_, n) => {
    const key = keys[n % keys.length]!;
    return createAndSignTx(key.privateKey, key.publicKey, key.publicKey, null, 'CREATE', {
      payload: { bench: label, n },
    });
  });
  return { txs, bodies: txs.map((tx) => JSON.stringify(tx)) };
}

interface CpuSnapshot {
  at: number;
  nodes: ProcessStats[];
  database?: ProcessStats;
  client: number;
}

function snapshot(federation: Federation): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    nodes: federation.nodes.map((node) => processStats(node.child.pid!)),
    ...(federation.postgresPid === undefined ? {} : { database: processStats(federation.postgresPid) }),
    client: (usage.user + usage.system) / 1e6,
  };
}

interface CpuUse {
  /** per node process (with its HTTP API workers): CPU seconds / wall seconds (1.0 = one core busy) */
  nodes: number[];
  /** the PostgreSQL server, all its processes */
  database?: number;
  client: number;
  /** CPU µs of the node processes and PostgreSQL together per transaction decided in the window */
  serverUsPerDecidedTx: number;
}

/** CPU use between two snapshots, in which `decided` transactions were decided valid. */
function cpuUse(from: CpuSnapshot, to: CpuSnapshot, decided: number): CpuUse {
  const wall = (to.at - from.at) / 1000;
  const serverSeconds = (snapshot: CpuSnapshot) =>
    snapshot.nodes.reduce((sum, stats) => sum + stats.cpuSeconds, 0) + (snapshot.database?.cpuSeconds ?? 0);
  return {
    nodes: to.nodes.map((stats, i) => round((stats.cpuSeconds - from.nodes[i]!.cpuSeconds) / wall, 2)),
    ...(to.database === undefined || from.database === undefined
      ? {}
      : { database: round((to.database.cpuSeconds - from.database.cpuSeconds) / wall, 2) }),
    client: round((to.client - from.client) / wall, 2),
    serverUsPerDecidedTx: round(((serverSeconds(to) - serverSeconds(from)) * 1e6) / decided),
  };
}

function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function summary(sorted: readonly number[]) {
  return {
    samples: sorted.length,
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    p99Ms: round(percentile(sorted, 99)),
  };
}

interface ThroughputResult {
  count: number;
  concurrency: number;
  acceptedTxPerSecond: number;
  decidedTxPerSecond: number;
  refused: number;
  firstRefusal?: string;
  latency: ReturnType<typeof summary>;
  cpu: CpuUse;
}

/**
 * Steps 2 and 4: every body POSTed by `concurrency` connections; resolves when all are decided valid, with
 * the node's answers to the first `keepFirst` (for CREATEs: the node's CREATE, which later steps spend).
 */
async function throughput(
  client: HttpClient,
  decisions: Decisions,
  federation: Federation,
  bodies: readonly string[],
  options: Options,
  keepFirst: number,
): Promise<{ result: ThroughputResult; created: Transaction[] }> {
  const sampleEvery = Math.max(1, Math.round(1 / options.sample));
  const created: Transaction[] = [];
  let next = 0;
  let refused = 0;
  let firstRefusal: string | undefined;
  let lastAnswer = 0;
  const baseline = decisions.decided;
  const before = snapshot(federation);
  const sender = async () => {
    while (next < bodies.length) {
      const i = next++;
      const postedAt = performance.now();
      const answer = await client.post(bodies[i]!);
      lastAnswer = performance.now();
      if (answer.status !== 201) {
        refused++;
        firstRefusal ??= `${answer.status} ${answer.text.slice(0, 300)}`;
        continue;
      }
      if (i < keepFirst) created[i] = JSON.parse(answer.text) as Transaction;
      if (i % sampleEvery === 0)
        void decisions.track(
          i < keepFirst ? created[i]!.id : (JSON.parse(answer.text) as Transaction).id,
          postedAt,
        );
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, sender));
  const accepted = bodies.length - refused;
  await decisions.until(baseline + accepted);
  await decisions.allTracked();
  const after = snapshot(federation);
  const seconds = (decisions.lastDecisionAt - before.at) / 1000;
  return {
    created: created.filter((tx) => tx !== undefined),
    result: {
      count: bodies.length,
      concurrency: options.concurrency,
      acceptedTxPerSecond: round(accepted / ((lastAnswer - before.at) / 1000)),
      decidedTxPerSecond: round(accepted / seconds),
      refused,
      ...(firstRefusal === undefined ? {} : { firstRefusal }),
      latency: summary(decisions.takeLatencies()),
      cpu: cpuUse(before, after, accepted),
    },
  };
}

interface ChainResult {
  chains: number;
  hops: number;
  decidedTxPerSecond: number;
  refused: number;
  firstRefusal?: string;
  latency: ReturnType<typeof summary>;
  cpu: CpuUse;
}

/** A TRANSFER of output 0 of `previous`, owned by `owner`, to a fresh key, and that key. */
function signTransfer(previous: Transaction, owner: KeyPair): { tx: Transaction; next: KeyPair } {
  const next = generateKeyPair();
  const tx = createAndSignTx(
    owner.privateKey,
    owner.publicKey,
    next.publicKey,
    { txid: previous.id, cid: 0 },
    'TRANSFER',
    { lookupInputCondition: lookupInTransactions([previous]) },
  );
  return { tx, next };
}

/** The client key owning output 0 of a node's CREATE. */
function ownerOfCreate(asset: Transaction, ownerOf: ReadonlyMap<string, KeyPair>): KeyPair {
  return ownerOf.get(asset.transaction.conditions[0]!.owners_after![0]!)!;
}

/** Step 3: each asset handed from owner to owner, a hop at a time. */
async function transferChains(
  client: HttpClient,
  decisions: Decisions,
  federation: Federation,
  assets: readonly Transaction[],
  ownerOf: ReadonlyMap<string, KeyPair>,
  hops: number,
): Promise<ChainResult> {
  // Every hop signed beforehand: ids depend only on the previous hop.
  const chains = assets.map((asset) => {
    let owner = ownerOfCreate(asset, ownerOf);
    let previous = asset;
    return Array.from({ length: hops }, () => {
      const { tx, next } = signTransfer(previous, owner);
      owner = next;
      previous = tx;
      return JSON.stringify(tx);
    });
  });
  let refused = 0;
  let firstRefusal: string | undefined;
  const before = snapshot(federation);
  await Promise.all(
    chains.map(async (bodies) => {
      for (const body of bodies) {
        const postedAt = performance.now();
        const answer = await client.post(body);
        if (answer.status !== 201) {
          refused++;
          firstRefusal ??= `${answer.status} ${answer.text.slice(0, 300)}`;
          return;
        }
        await decisions.track((JSON.parse(answer.text) as Transaction).id, postedAt);
      }
    }),
  );
  const after = snapshot(federation);
  const done = chains.length * hops - refused;
  return {
    chains: chains.length,
    hops,
    decidedTxPerSecond: round(done / ((after.at - before.at) / 1000)),
    refused,
    ...(firstRefusal === undefined ? {} : { firstRefusal }),
    latency: summary(decisions.takeLatencies()),
    cpu: cpuUse(before, after, done),
  };
}

/** Step 4: each asset spent once, all at once: TRANSFERs that wait for nothing but their own block. */
async function independentTransfers(
  client: HttpClient,
  decisions: Decisions,
  federation: Federation,
  assets: readonly Transaction[],
  ownerOf: ReadonlyMap<string, KeyPair>,
  options: Options,
): Promise<ThroughputResult> {
  const bodies = assets.map((asset) => JSON.stringify(signTransfer(asset, ownerOfCreate(asset, ownerOf)).tx));
  const { result } = await throughput(client, decisions, federation, bodies, options, 0);
  return result;
}

interface LoadResult {
  percentOfMax: number;
  offeredTxPerSecond: number;
  acceptedTxPerSecond: number;
  refused: number;
  latency: ReturnType<typeof summary>;
  cpu: CpuUse;
}

/** Step 5: POSTs on a fixed schedule (open loop), whatever the answers take. */
async function fixedLoad(
  client: HttpClient,
  decisions: Decisions,
  federation: Federation,
  bodies: readonly string[],
  rate: number,
  percentOfMax: number,
  seconds: number,
): Promise<LoadResult> {
  const baseline = decisions.decided;
  let sent = 0;
  let accepted = 0;
  let refused = 0;
  let inFlight = 0;
  const total = Math.min(bodies.length, Math.round(rate * seconds));
  const before = snapshot(federation);
  const sends: Promise<void>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - before.at) / 1000) * rate) + 1);
    while (sent < due && inFlight < MAX_IN_FLIGHT) {
      const body = bodies[sent++]!;
      const postedAt = performance.now();
      inFlight++;
      sends.push(
        client.post(body).then((answer) => {
          inFlight--;
          if (answer.status !== 201) {
            refused++;
            return;
          }
          accepted++;
          void decisions.track((JSON.parse(answer.text) as Transaction).id, postedAt);
        }),
      );
    }
    await delay(OPEN_LOOP_TICK_MS);
  }
  await Promise.all(sends);
  const acceptedSeconds = (performance.now() - before.at) / 1000;
  await decisions.until(baseline + accepted);
  await decisions.allTracked();
  const after = snapshot(federation);
  return {
    percentOfMax,
    offeredTxPerSecond: round(rate),
    acceptedTxPerSecond: round(accepted / acceptedSeconds),
    refused,
    latency: summary(decisions.takeLatencies()),
    cpu: cpuUse(before, after, accepted),
  };
}

interface CryptoCeiling {
  /** the CPUs the node processes and PostgreSQL had */
  cores: number;
  cost: SignatureCost;
  create: CeilingOf;
  transfer: CeilingOf;
}

interface CeilingOf {
  /** node:crypto µs per transaction, over the whole federation */
  usPerTx: number;
  txPerSecondPerCore: number;
  txPerSecond: number;
}

/**
 * What the signatures alone allow: a CREATE is verified once per node (the client's signature where it is
 * admitted, the node's where every other node votes) and signed once by the admitting node; a TRANSFER is
 * verified once per node. Blocks' and votes' own signatures are left out: one per block, not per transaction.
 */
function cryptoCeiling(cost: SignatureCost, nodes: number, cores: number): CryptoCeiling {
  const of = (usPerTx: number): CeilingOf => ({
    usPerTx: round(usPerTx, 1),
    txPerSecondPerCore: round(1e6 / usPerTx),
    txPerSecond: round((cores * 1e6) / usPerTx),
  });
  return {
    cores,
    cost: { verifyUs: round(cost.verifyUs, 1), signUs: round(cost.signUs, 1) },
    create: of(cost.signUs + nodes * cost.verifyUs),
    transfer: of(nodes * cost.verifyUs),
  };
}

/** --statsd-compare: one run's StatsD settings, and the sink counting what it receives. */
interface StatsdRun {
  mode: 'off' | 'on';
  settings: { host: string; port: number; rate: number };
  sink: { packets: number; lines: number };
}

interface ScenarioResult {
  scenario: ScenarioName;
  description: string;
  /** --statsd-compare: StatsD off or on for this run, and the packets and lines the sink received */
  statsd?: { mode: 'off' | 'on'; packets: number; lines: number };
  /** the CPU list this run was pinned to (--scaling); unpinned otherwise */
  pinnedCpus?: string;
  rawVerifyPerSecond: number;
  ratioDecidedToRawVerify: number;
  cryptoCeiling: CryptoCeiling;
  create: ThroughputResult;
  ratioCreateToCeiling: number;
  transferChains?: ChainResult;
  independentTransfers?: ThroughputResult;
  ratioTransfersToCeiling?: number;
  fixedLoad: LoadResult[];
  peakRssMiB: { nodes: number[]; client: number };
}

async function runScenario(
  name: ScenarioName,
  options: Options,
  pinnedCpus?: string,
  statsd?: StatsdRun,
): Promise<ScenarioResult> {
  const tag = `[${name}${pinnedCpus === undefined ? '' : ` cpus ${pinnedCpus}`}${statsd === undefined ? '' : ` statsd ${statsd.mode}`}]`;
  console.log(`\n${tag} signing transactions…`);
  const clientKeys = Array.from({ length: CLIENT_KEYS }, generateKeyPair);
  const ownerOf = new Map(clientKeys.map((key) => [key.publicKey, key]));
  const throughputSet = clientCreates(clientKeys, options.count, `${name}-throughput`);
  const cores = availableParallelism();
  const rawVerifyPerSecond = round(await rawVerifyRate(throughputSet.txs.slice(0, 10_000)));
  const ceiling = cryptoCeiling(
    signatureCostPerCore(throughputSet.txs.slice(0, SIGNATURE_COST_SAMPLE)),
    name === 'postgresql-3' ? 3 : 1,
    cores,
  );
  console.log(
    `${tag} raw verify ${rawVerifyPerSecond.toLocaleString('en-US')} signatures/s on ${cores} worker thread${cores === 1 ? '' : 's'}; ` +
      `one core: verify ${ceiling.cost.verifyUs} µs, sign ${ceiling.cost.signUs} µs → ceiling ` +
      `${ceiling.create.txPerSecond} CREATE tx/s, ${ceiling.transfer.txPerSecond} TRANSFER tx/s on ${cores} core${cores === 1 ? '' : 's'}`,
  );

  const decisions = new Decisions();
  const federation = await startFederation(name, options, statsd);
  const sinkBefore = statsd === undefined ? undefined : { ...statsd.sink };
  decisions.follow(federation.nodes);
  const client = new HttpClient(federation.nodes[0]!.apiUrl, options.concurrency + STATUS_CHECKS_IN_PARALLEL);
  decisions.client = client;
  try {
    console.log(
      `${tag} ${options.count.toLocaleString('en-US')} CREATEs over ${options.concurrency} connections…`,
    );
    const { result: create, created } = await throughput(
      client,
      decisions,
      federation,
      throughputSet.bodies,
      options,
      options.chains + options.transfers,
    );
    console.log(
      `${tag} accepted ${create.acceptedTxPerSecond} tx/s, decided ${create.decidedTxPerSecond} tx/s, p50/p95/p99 ${create.latency.p50Ms}/${create.latency.p95Ms}/${create.latency.p99Ms} ms, server CPU ${create.cpu.serverUsPerDecidedTx} µs/tx`,
    );

    let chains: ChainResult | undefined;
    if (options.chains > 0) {
      console.log(`${tag} ${options.chains} TRANSFER chains of ${options.hops} hops…`);
      chains = await transferChains(
        client,
        decisions,
        federation,
        created.slice(0, options.chains),
        ownerOf,
        options.hops,
      );
      console.log(
        `${tag} chains: ${chains.decidedTxPerSecond} tx/s, p50/p95/p99 ${chains.latency.p50Ms}/${chains.latency.p95Ms}/${chains.latency.p99Ms} ms`,
      );
    }

    let transfers: ThroughputResult | undefined;
    if (options.transfers > 0) {
      console.log(
        `${tag} ${options.transfers} independent TRANSFERs over ${options.concurrency} connections…`,
      );
      transfers = await independentTransfers(
        client,
        decisions,
        federation,
        created.slice(options.chains, options.chains + options.transfers),
        ownerOf,
        options,
      );
      console.log(
        `${tag} independent TRANSFERs: decided ${transfers.decidedTxPerSecond} tx/s, p50/p95/p99 ${transfers.latency.p50Ms}/${transfers.latency.p95Ms}/${transfers.latency.p99Ms} ms, server CPU ${transfers.cpu.serverUsPerDecidedTx} µs/tx`,
      );
    }

    const loads: LoadResult[] = [];
    for (const level of options.levels) {
      const rate = (create.decidedTxPerSecond * level) / 100;
      const set = clientCreates(clientKeys, Math.ceil(rate * options.loadSeconds), `${name}-load-${level}`);
      console.log(`${tag} ${level} % load: ${Math.round(rate)} tx/s for ${options.loadSeconds} s…`);
      const load = await fixedLoad(
        client,
        decisions,
        federation,
        set.bodies,
        rate,
        level,
        options.loadSeconds,
      );
      console.log(
        `${tag}   p50/p95/p99 ${load.latency.p50Ms}/${load.latency.p95Ms}/${load.latency.p99Ms} ms`,
      );
      loads.push(load);
    }
    const peak = federation.nodes.map((node) => round(processStats(node.child.pid!).peakRssMiB));
    return {
      scenario: name,
      description: federation.description,
      ...(pinnedCpus === undefined ? {} : { pinnedCpus }),
      ...(statsd === undefined || sinkBefore === undefined
        ? {}
        : {
            statsd: {
              mode: statsd.mode,
              packets: statsd.sink.packets - sinkBefore.packets,
              lines: statsd.sink.lines - sinkBefore.lines,
            },
          }),
      rawVerifyPerSecond,
      ratioDecidedToRawVerify: round(create.decidedTxPerSecond / rawVerifyPerSecond, 3),
      cryptoCeiling: ceiling,
      create,
      ratioCreateToCeiling: round(create.decidedTxPerSecond / ceiling.create.txPerSecond, 3),
      ...(chains === undefined ? {} : { transferChains: chains }),
      ...(transfers === undefined
        ? {}
        : {
            independentTransfers: transfers,
            ratioTransfersToCeiling: round(transfers.decidedTxPerSecond / ceiling.transfer.txPerSecond, 3),
          }),
      fixedLoad: loads,
      peakRssMiB: { nodes: peak, client: round(process.resourceUsage().maxRSS / 1024) },
    };
  } finally {
    decisions.stop();
    client.close();
    await federation.close();
  }
}

// --- report ---------------------------------------------------------------------------------------------

function latencyText(latency: ReturnType<typeof summary>): string {
  return `${latency.p50Ms} / ${latency.p95Ms} / ${latency.p99Ms} ms`;
}

/** A scenario as the tables and the chart name it: with its CPU list when it was pinned. */
function runLabel(r: ScenarioResult): string {
  const pinned = r.pinnedCpus === undefined ? '' : ` @ cpus ${r.pinnedCpus}`;
  return `${r.scenario}${pinned}${r.statsd === undefined ? '' : ` statsd ${r.statsd.mode}`}`;
}

function report(results: readonly ScenarioResult[], machine: object, command: string): void {
  console.log(`\n## npm run bench — ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(`\`${command}\`; ${JSON.stringify(machine)}\n`);
  console.log(
    '| scenario | raw verify/s | CREATE accepted tx/s | CREATE decided tx/s | ratio to raw verify | ratio to crypto ceiling | target | p50 / p95 / p99 POST→valid | server CPU µs/tx | node CPU (cores) | PostgreSQL CPU | client CPU | peak RSS nodes MiB |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const target = r.scenario === 'postgresql-3' ? TARGETS.threeNodes : TARGETS.oneNode;
    console.log(
      `| ${runLabel(r)} | ${r.rawVerifyPerSecond} | ${r.create.acceptedTxPerSecond} | ${r.create.decidedTxPerSecond} | ${r.ratioDecidedToRawVerify} | ${r.ratioCreateToCeiling} | ` +
        `${target} ${r.create.decidedTxPerSecond >= target ? 'met' : 'NOT met'} | ${latencyText(r.create.latency)} | ${r.create.cpu.serverUsPerDecidedTx} | ${r.create.cpu.nodes.join(', ')} | ${r.create.cpu.database ?? '—'} | ${r.create.cpu.client} | ${r.peakRssMiB.nodes.join(', ')} |`,
    );
  }
  console.log(
    '\nCrypto ceiling (node:crypto on one core, this run): CREATE = sign + verify × nodes, TRANSFER = verify × nodes; tx/s = cores × 1e6 / µs\n',
  );
  console.log(
    '| scenario | cores | verify µs | sign µs | CREATE µs/tx | CREATE ceiling tx/s (per core) | CREATE decided / ceiling | TRANSFER µs/tx | TRANSFER ceiling tx/s (per core) | independent TRANSFERs decided / ceiling |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const c = r.cryptoCeiling;
    console.log(
      `| ${runLabel(r)} | ${c.cores} | ${c.cost.verifyUs} | ${c.cost.signUs} | ${c.create.usPerTx} | ${c.create.txPerSecond} (${c.create.txPerSecondPerCore}) | ${r.ratioCreateToCeiling} | ` +
        `${c.transfer.usPerTx} | ${c.transfer.txPerSecond} (${c.transfer.txPerSecondPerCore}) | ${r.ratioTransfersToCeiling ?? '—'} |`,
    );
  }
  console.log(
    '\n| scenario | TRANSFER chains tx/s | p50 / p95 / p99 per hop | server CPU µs/tx | independent TRANSFERs decided tx/s | p50 / p95 / p99 POST→valid | server CPU µs/tx |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    const chains = r.transferChains;
    const transfers = r.independentTransfers;
    console.log(
      `| ${runLabel(r)} | ${chains?.decidedTxPerSecond ?? '—'} | ${chains ? latencyText(chains.latency) : '—'} | ${chains?.cpu.serverUsPerDecidedTx ?? '—'} | ` +
        `${transfers?.decidedTxPerSecond ?? '—'} | ${transfers ? latencyText(transfers.latency) : '—'} | ${transfers?.cpu.serverUsPerDecidedTx ?? '—'} |`,
    );
  }
  if (results[0]!.fixedLoad.length > 0) {
    console.log(
      '\n| scenario | ' +
        results[0]!.fixedLoad
          .map((l) => `${l.percentOfMax} % load: tx/s, p50 / p95 / p99, server CPU µs/tx`)
          .join(' | ') +
        ' |',
    );
    console.log('|---|' + results[0]!.fixedLoad.map(() => '---|').join(''));
    for (const r of results)
      console.log(
        `| ${runLabel(r)} | ` +
          r.fixedLoad
            .map((l) => `${l.acceptedTxPerSecond}: ${latencyText(l.latency)}, ${l.cpu.serverUsPerDecidedTx}`)
            .join(' | ') +
          ' |',
      );
  }
  const scaling = scalingRows(results);
  if (scaling.length > 0) {
    const [one, two] = SCALING_CPUS;
    console.log(
      `\nScaling: node processes and PostgreSQL pinned with taskset, the client (this process) pinned alike\n\n` +
        `| scenario | CREATE decided tx/s, cpus ${one} | cpus ${two} | ratio | independent TRANSFERs tx/s, cpus ${one} | cpus ${two} | ratio |\n|---|---|---|---|---|---|---|`,
    );
    for (const row of scaling)
      console.log(
        `| ${row.scenario} | ${row.create.join(' | ')} | ${row.transfers.map((value) => value ?? '—').join(' | ')} |`,
      );
  }
  const statsdRuns = results.filter((r) => r.statsd !== undefined);
  if (statsdRuns.length > 0) {
    console.log(
      '\nStatsD cost: StatsD off (statsd.host empty), then on (every process at rate 1 to a UDP sink here)\n\n' +
        '| scenario | CREATE decided tx/s off → on | change | server CPU µs per CREATE off → on | change | packets (lines) received |\n|---|---|---|---|---|---|',
    );
    for (const scenario of new Set(statsdRuns.map((r) => r.scenario))) {
      const off = statsdRuns.find((r) => r.scenario === scenario && r.statsd?.mode === 'off');
      const on = statsdRuns.find((r) => r.scenario === scenario && r.statsd?.mode === 'on');
      if (off === undefined || on === undefined) continue;
      const change = (a: number, b: number) => `${b >= a ? '+' : ''}${round((100 * (b - a)) / a, 1)} %`;
      const [rateOff, rateOn] = [off.create.decidedTxPerSecond, on.create.decidedTxPerSecond];
      const [cpuOff, cpuOn] = [off.create.cpu.serverUsPerDecidedTx, on.create.cpu.serverUsPerDecidedTx];
      console.log(
        `| ${scenario} | ${rateOff} → ${rateOn} | ${change(rateOff, rateOn)} | ${cpuOff} → ${cpuOn} | ${change(cpuOff, cpuOn)} | ${on.statsd!.packets} (${on.statsd!.lines}) |`,
      );
    }
  }
  for (const r of results) console.log(`- ${runLabel(r)}: ${r.description}`);
}

interface ScalingRow {
  scenario: ScenarioName;
  /** decided tx/s on the first CPU list, on the second, and their ratio */
  create: [number, number, number];
  transfers: [number | undefined, number | undefined, number | undefined];
}

/** --scaling: each scenario's runs on SCALING_CPUS side by side. */
function scalingRows(results: readonly ScenarioResult[]): ScalingRow[] {
  return [...new Set(results.map((r) => r.scenario))].flatMap((scenario) => {
    const [one, two] = SCALING_CPUS.map((cpus) =>
      results.find((r) => r.scenario === scenario && r.pinnedCpus === cpus),
    );
    if (one === undefined || two === undefined) return [];
    const oneTransfers = one.independentTransfers?.decidedTxPerSecond;
    const twoTransfers = two.independentTransfers?.decidedTxPerSecond;
    return [
      {
        scenario,
        create: [
          one.create.decidedTxPerSecond,
          two.create.decidedTxPerSecond,
          round(two.create.decidedTxPerSecond / one.create.decidedTxPerSecond, 2),
        ],
        transfers: [
          oneTransfers,
          twoTransfers,
          oneTransfers === undefined || twoTransfers === undefined
            ? undefined
            : round(twoTransfers / oneTransfers, 2),
        ],
      },
    ];
  });
}

/** The latency curve: p50 and p95 against offered load, one line per scenario. */
function latencySvg(results: readonly ScenarioResult[]): string {
  const width = 720;
  const height = 360;
  const margin = { left: 60, right: 240, top: 20, bottom: 45 };
  const points = results.flatMap((r) =>
    r.fixedLoad.map((l) => ({ x: l.acceptedTxPerSecond, y: l.latency.p95Ms })),
  );
  const maxX = Math.max(1, ...points.map((p) => p.x)) * 1.1;
  const maxY = Math.max(1, ...points.map((p) => p.y)) * 1.15;
  const sx = (x: number) => margin.left + (x / maxX) * (width - margin.left - margin.right);
  const sy = (y: number) => height - margin.bottom - (y / maxY) * (height - margin.top - margin.bottom);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
  const lines: string[] = [];
  for (const [i, r] of results.entries()) {
    const color = colors[i % colors.length]!;
    for (const [key, dash] of [
      ['p95Ms', ''],
      ['p50Ms', '4 3'],
    ] as const) {
      const path = r.fixedLoad
        .map((l) => `${sx(l.acceptedTxPerSecond).toFixed(1)},${sy(l.latency[key]).toFixed(1)}`)
        .join(' ');
      lines.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''} points="${path}"/>`,
      );
      for (const l of r.fixedLoad)
        lines.push(
          `<circle cx="${sx(l.acceptedTxPerSecond).toFixed(1)}" cy="${sy(l.latency[key]).toFixed(1)}" r="3" fill="${color}"/>`,
        );
    }
    const y = margin.top + 16 + i * 36;
    lines.push(
      `<line x1="${width - margin.right + 12}" y1="${y}" x2="${width - margin.right + 32}" y2="${y}" stroke="${color}" stroke-width="2"/>`,
    );
    lines.push(
      `<text x="${width - margin.right + 36}" y="${y + 4}" font-size="12">${runLabel(r)} p95</text>`,
    );
    lines.push(
      `<line x1="${width - margin.right + 12}" y1="${y + 16}" x2="${width - margin.right + 32}" y2="${y + 16}" stroke="${color}" stroke-width="2" stroke-dasharray="4 3"/>`,
    );
    lines.push(
      `<text x="${width - margin.right + 36}" y="${y + 20}" font-size="12">${runLabel(r)} p50</text>`,
    );
  }
  const ticks = (max: number, n: number) => Array.from({ length: n + 1 }, (_, i) => (max * i) / n);
  const axis = [
    `<line x1="${margin.left}" y1="${height - margin.bottom}" x2="${width - margin.right}" y2="${height - margin.bottom}" stroke="#333"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${height - margin.bottom}" stroke="#333"/>`,
    ...ticks(maxX, 5).map(
      (x) =>
        `<text x="${sx(x).toFixed(1)}" y="${height - margin.bottom + 16}" font-size="11" text-anchor="middle">${Math.round(x)}</text>`,
    ),
    ...ticks(maxY, 5).map(
      (y) =>
        `<text x="${margin.left - 6}" y="${(sy(y) + 4).toFixed(1)}" font-size="11" text-anchor="end">${Math.round(y)}</text>`,
    ),
    `<text x="${(margin.left + width - margin.right) / 2}" y="${height - 8}" font-size="12" text-anchor="middle">accepted load (tx/s)</text>`,
    `<text x="14" y="${(margin.top + height - margin.bottom) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${(margin.top + height - margin.bottom) / 2})">POST → valid (ms)</text>`,
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${[...axis, ...lines].join('\n')}\n</svg>\n`;
}

/** This process's CPU list (taskset -c syntax). */
function cpuAffinity(): string {
  const answer = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
  return answer.slice(answer.lastIndexOf(':') + 1).trim();
}

/**
 * Pins every thread of this process to `cpus`; what it starts afterwards (node processes, their workers,
 * the PostgreSQL servers) inherits that.
 */
function setCpuAffinity(cpus: string): void {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(process.pid)], { stdio: 'ignore' });
}

async function freshPath(dir: string, base: string, extension: string): Promise<string> {
  for (let n = 1; ; n++) {
    const path = join(dir, `${base}${n === 1 ? '' : `-${n}`}.${extension}`);
    if (!existsSync(path)) return path;
  }
}

const options = parseOptions();
// An empty argument (`--levels ''`) shown as typed, so the command can be run again as printed.
const command = `npm run bench -- ${process.argv
  .slice(2)
  .map((arg) => (arg === '' ? "''" : arg))
  .join(' ')}`.trim();
const machine = {
  cores: availableParallelism(),
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: round(totalmem() / 2 ** 30, 1),
  node: process.version,
};
const results: ScenarioResult[] = [];
const sink = options.statsdCompare ? await statsdSink() : undefined;
for (const scenario of options.scenarios) {
  if (sink !== undefined) {
    for (const mode of ['off', 'on'] as const) {
      const settings = { host: mode === 'on' ? '127.0.0.1' : '', port: sink.port, rate: 1 };
      results.push(await runScenario(scenario, options, undefined, { mode, settings, sink: sink.counts }));
    }
    continue;
  }
  if (!options.scaling) {
    results.push(await runScenario(scenario, options));
    continue;
  }
  const unpinned = cpuAffinity();
  for (const cpus of SCALING_CPUS) {
    setCpuAffinity(cpus);
    try {
      results.push(await runScenario(scenario, options, cpus));
    } finally {
      setCpuAffinity(unpinned);
    }
  }
}
sink?.close();
report(results, machine, command);
const resultsDir = new URL('./results/', import.meta.url).pathname;
await mkdir(resultsDir, { recursive: true });
const date = new Date().toISOString().slice(0, 10);
const jsonPath = await freshPath(resultsDir, date, 'json');
await writeFile(
  jsonPath,
  `${JSON.stringify({ date: new Date().toISOString(), command, machine, options, targets: TARGETS, results }, null, 2)}\n`,
);
const svgPath = jsonPath.replace(/\.json$/, '-latency.svg');
await writeFile(svgPath, latencySvg(results));
console.log(`\nresults: ${jsonPath}\nchart:   ${svgPath}`);
