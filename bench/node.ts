/**
 * The node end to end, without HTTP: signed CREATE transactions are written straight into the backlog and
 * timed until every one is in a block decided valid.
 *
 * Scenarios: `embedded-1` (one node in this process on the embedded backend: the PostgreSQL server the node
 * runs itself on an on-disk data dir, the client sharing the node's Storage), `postgresql-1` and `postgresql-3` (one or three `bigchaindb start` processes sharing a durable
 * PostgreSQL server started here; the client is this process). For each:
 *   1. the raw verify rate: the same transactions' signatures checked on a worker pool of one thread per core;
 *   2. throughput: `--count` transactions written as fast as possible, tx/s from the first write to the last
 *      transaction decided valid, and the backlog → valid latency of each;
 *   3. latency under 50 % load: transactions written at half the measured throughput for `--load-seconds`,
 *      p50/p95/p99 of backlog → valid.
 *
 *   npm run bench:node -- [--scenarios embedded-1,postgresql-1,postgresql-3] [--count 20000] [--load-seconds 10]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { generateKeyPair, type KeyPair } from '../src/protocol/crypto.ts';
import { createAndSignTx, type Transaction } from '../src/protocol/transaction.ts';
import { Bigchain } from '../src/node/bigchain.ts';
import { BigchainNode } from '../src/node/node.ts';
import { DEFAULT_DATABASE_CONFIG, openStorage } from '../src/storage/open.ts';
import { PostgresDriver } from '../src/storage/postgres-driver.ts';
import { Storage } from '../src/storage/storage.ts';
import { rawDriver } from '../test/support/raw-sql.ts';
import { percentile, rawVerifyRate, startBenchNodes, startBenchPostgres } from './common.ts';

const SCENARIOS = ['embedded-1', 'postgresql-1', 'postgresql-3'] as const;
type ScenarioName = (typeof SCENARIOS)[number];
const WRITE_CHUNK = 1000;
const POLL_MS = 50;
const PHASE_TIMEOUT_MS = 15 * 60_000;
const LOAD_TICK_MS = 100;
const TARGETS = { oneNode: 4_000, threeNodes: 2_000, p95Ms: 2_000 };

interface Options {
  scenarios: ScenarioName[];
  count: number;
  loadSeconds: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      count: { type: 'string', default: '20000' },
      'load-seconds': { type: 'string', default: '10' },
    },
  });
  const scenarios = values.scenarios.split(',') as ScenarioName[];
  for (const scenario of scenarios) {
    if (!SCENARIOS.includes(scenario))
      throw new Error(`unknown scenario ${scenario}: use ${SCENARIOS.join(', ')}`);
  }
  const count = Number(values.count);
  const loadSeconds = Number(values['load-seconds']);
  if (!Number.isInteger(count) || count < WRITE_CHUNK) throw new Error(`--count must be ≥ ${WRITE_CHUNK}`);
  if (!(loadSeconds > 0)) throw new Error('--load-seconds must be > 0');
  return { scenarios, count, loadSeconds };
}

/** A running federation and a client Storage on its database. */
interface Federation {
  keys: KeyPair[];
  client: Storage;
  description: string;
  close(): Promise<void>;
}

async function embeddedFederation(): Promise<Federation> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-node-'));
  const storage = await openStorage(
    { ...DEFAULT_DATABASE_CONFIG, backend: 'embedded', path: join(dir, 'data') },
    { create: true, asNode: true },
  );
  const keyPair = generateKeyPair();
  const bigchain = new Bigchain({ storage, keyPair });
  const node = await BigchainNode.start(bigchain);
  return {
    keys: [keyPair],
    client: storage,
    description:
      '1 node in this process on the embedded PostgreSQL server it runs on an on-disk data dir (the client shares its Storage)',
    async close() {
      await node.stop();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postgresFederation(nodes: number): Promise<Federation> {
  const { server, database } = await startBenchPostgres();
  const dir = await mkdtemp(join(tmpdir(), 'bench-node-'));
  const keys = Array.from({ length: nodes }, generateKeyPair);
  const processes = await startBenchNodes(keys, dir, { database });
  const client = new Storage(
    new PostgresDriver({ host: server.host, port: server.port, name: 'bench', user: server.user }),
    'bench',
  );
  return {
    keys,
    client,
    description: `${nodes} node process${nodes > 1 ? 'es' : ''} (\`bigchaindb start\`) sharing a durable PostgreSQL server (fsync on)`,
    async close() {
      await client.close();
      await Promise.all(processes.map((node) => node.stop()));
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Signed CREATEs by the first node, each to a fresh owner. */
function makeTransactions(creator: KeyPair, count: number, label: string): Transaction[] {
  const owner = generateKeyPair().publicKey;
  return Array.from({ length: count }, (_, n) =>
    createAndSignTx(creator.privateKey, creator.publicKey, owner, null, 'CREATE', {
      payload: { bench: label, n },
    }),
  );
}

/**
 * Watches blocks being decided valid and records when each transaction became valid (at POLL_MS
 * resolution), by block.
 */
class ValidWatcher {
  readonly validAt = new Map<string, number>();
  private readonly seenBlocks = new Set<string>();
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly storage: Storage) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const blocks = await rawDriver(this.storage).query<{ id: string }>(
        "SELECT id FROM blocks WHERE status = 'valid'",
      );
      const fresh = blocks.map((row) => row.id).filter((id) => !this.seenBlocks.has(id));
      if (fresh.length > 0) {
        const now = performance.now();
        const rows = await rawDriver(this.storage).query<{ tx_id: string }>(
          'SELECT tx_id FROM transactions WHERE block_id = ANY($1::text[])',
          [fresh],
        );
        for (const id of fresh) this.seenBlocks.add(id);
        for (const row of rows) if (!this.validAt.has(row.tx_id)) this.validAt.set(row.tx_id, now);
      }
      await delay(POLL_MS);
    }
  }

  async waitFor(ids: readonly string[]): Promise<void> {
    const deadline = performance.now() + PHASE_TIMEOUT_MS;
    while (ids.some((id) => !this.validAt.has(id))) {
      if (performance.now() > deadline) {
        const missing = ids.filter((id) => !this.validAt.has(id)).length;
        throw new Error(`${missing} transactions still not valid after ${PHASE_TIMEOUT_MS / 60_000} minutes`);
      }
      await delay(POLL_MS);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

function assignments(txs: readonly Transaction[], keys: readonly KeyPair[], offset: number) {
  return txs.map((transaction, i) => ({
    transaction,
    assignee: keys[(offset + i) % keys.length]!.publicKey,
  }));
}

function latencies(watcher: ValidWatcher, writtenAt: Map<string, number>): number[] {
  return [...writtenAt].map(([id, at]) => (watcher.validAt.get(id) ?? Number.NaN) - at).sort((a, b) => a - b);
}

interface Result {
  scenario: ScenarioName;
  description: string;
  verifyRate: number;
  throughput: number;
  fullLoad: number[];
  halfLoadRate: number;
  halfLoad: number[];
}

async function runScenario(name: ScenarioName, options: Options): Promise<Result> {
  console.log(`\n[${name}] starting…`);
  const federation =
    name === 'embedded-1'
      ? await embeddedFederation()
      : await postgresFederation(name === 'postgresql-3' ? 3 : 1);
  const { keys, client } = federation;
  const watcher = new ValidWatcher(client);
  try {
    console.log(`[${name}] signing ${options.count.toLocaleString('en-US')} transactions…`);
    const txs = makeTransactions(keys[0]!, options.count, `${name}-throughput`);
    const verifyRate = await rawVerifyRate(txs);
    console.log(`[${name}] raw verify rate ${Math.round(verifyRate).toLocaleString('en-US')} checks/s`);

    // Throughput: everything as fast as the client can write it.
    const writtenAt = new Map<string, number>();
    const started = performance.now();
    for (let i = 0; i < txs.length; i += WRITE_CHUNK) {
      const chunk = txs.slice(i, i + WRITE_CHUNK);
      await client.writeBacklog(assignments(chunk, keys, i));
      const now = performance.now();
      for (const tx of chunk) writtenAt.set(tx.id, now);
    }
    await watcher.waitFor(txs.map((tx) => tx.id));
    const lastValid = Math.max(...txs.map((tx) => watcher.validAt.get(tx.id)!));
    const throughput = txs.length / ((lastValid - started) / 1000);
    const fullLoad = latencies(watcher, writtenAt);
    console.log(`[${name}] throughput ${Math.round(throughput).toLocaleString('en-US')} tx/s`);

    // Latency at half that rate.
    const halfLoadRate = throughput / 2;
    const perTick = Math.max(1, Math.round((halfLoadRate * LOAD_TICK_MS) / 1000));
    const ticks = Math.round((options.loadSeconds * 1000) / LOAD_TICK_MS);
    const steady = makeTransactions(keys[0]!, perTick * ticks, `${name}-half-load`);
    console.log(
      `[${name}] ${steady.length.toLocaleString('en-US')} transactions at ${Math.round(halfLoadRate)} tx/s…`,
    );
    const steadyWrittenAt = new Map<string, number>();
    const loadStart = performance.now();
    for (let tick = 0; tick < ticks; tick++) {
      const due = loadStart + tick * LOAD_TICK_MS;
      const wait = due - performance.now();
      if (wait > 0) await delay(wait);
      const chunk = steady.slice(tick * perTick, (tick + 1) * perTick);
      const at = performance.now();
      await client.writeBacklog(assignments(chunk, keys, tick * perTick));
      for (const tx of chunk) steadyWrittenAt.set(tx.id, at);
    }
    await watcher.waitFor(steady.map((tx) => tx.id));
    const halfLoad = latencies(watcher, steadyWrittenAt);
    return {
      scenario: name,
      description: federation.description,
      verifyRate,
      throughput,
      fullLoad,
      halfLoadRate,
      halfLoad,
    };
  } finally {
    await watcher.stop();
    await federation.close();
  }
}

function ms(value: number): string {
  return `${Math.round(value).toLocaleString('en-US')} ms`;
}

function report(results: readonly Result[], options: Options): void {
  console.log(
    `\n## bench:node — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})`,
  );
  console.log(
    `${options.count.toLocaleString('en-US')} CREATEs for throughput, then ${options.loadSeconds} s at half that rate.\n`,
  );
  console.log(
    '| scenario | raw verify | throughput | target | p50 / p95 / p99 at full load | p50 / p95 / p99 at 50 % load | p95 target |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    const target = r.scenario === 'postgresql-3' ? TARGETS.threeNodes : TARGETS.oneNode;
    const full = [50, 95, 99].map((p) => ms(percentile(r.fullLoad, p))).join(' / ');
    const half = [50, 95, 99].map((p) => ms(percentile(r.halfLoad, p))).join(' / ');
    const p95 = percentile(r.halfLoad, 95);
    console.log(
      `| ${r.scenario} | ${Math.round(r.verifyRate).toLocaleString('en-US')} checks/s | ${Math.round(r.throughput).toLocaleString('en-US')} tx/s | ` +
        `${target.toLocaleString('en-US')} ${r.throughput >= target ? 'met' : 'NOT met'} | ${full} | ${half} (${Math.round(r.halfLoadRate)} tx/s) | ` +
        `${p95 <= TARGETS.p95Ms ? 'met' : 'NOT met'} |`,
    );
  }
  for (const r of results) console.log(`- ${r.scenario}: ${r.description}`);
}

const options = parseOptions();
const results: Result[] = [];
for (const scenario of options.scenarios) results.push(await runScenario(scenario, options));
report(results, options);
