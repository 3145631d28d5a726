/**
 * What a node counts about itself (docs/monitoring.md), kept two ways at once: a Prometheus registry
 * (`GET /metrics`; each process of a node, the `start` process and its HTTP API workers, keeps its own and
 * the one that answers a scrape sums them all: `renderMetrics`) and, with `statsd.host` set, StatsD packets
 * (UDP, sampled at `statsd.rate`), the seed's monitoring. Sending is fire and forget: no listener, a host
 * that does not resolve or a full socket buffer never slows or stops the node; the first failure of a kind
 * is a WARN line.
 */
import { hostname } from 'node:os';
import { StatsD } from 'hot-shots';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import { describeError, silentLogger, type Logger } from './log.ts';

/** One process's metrics as values (what crosses the IPC channel to the process answering a scrape). */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export type Decision = 'valid' | 'invalid';
/** a backlog transaction's signatures: checked at this node's admission (its tag on the row), or not */
export type BacklogSignatureCheck = 'skipped' | 'verified';

/** config `statsd`: where to send, and which fraction of the events (0 < rate ≤ 1) */
export interface StatsdSettings {
  host: string;
  port: number;
  rate: number;
}

export interface NodeMetricsOptions {
  /**
   * Also the process's CPU, memory, event-loop and GC metrics (prom-client's defaults): for a node's own
   * processes only, as each registry that has them observes the whole process.
   */
  processMetrics?: boolean;
  /** StatsD packets to `host:port`; none without (or with an empty host) */
  statsd?: StatsdSettings | null;
  /** where a StatsD failure is reported (once per kind) */
  log?: Logger;
}

/** What the node process reads at a scrape (and sends as StatsD gauges every GAUGE_INTERVAL_MS). */
export interface NodeGauges {
  /** transactions waiting in the backlog, for every node */
  backlogSize(): Promise<number>;
  /** signature-check jobs handed to the worker threads and not answered yet */
  verifyPoolPending(): number;
}

const GAUGE_INTERVAL_MS = 10_000;
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const ELECTION_BUCKETS = [0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300];
const BLOCK_SIZE_BUCKETS = [1, 10, 50, 100, 250, 500, 750, 1000];

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly statsd: StatsD | undefined;
  private readonly log: Logger;
  private readonly reportedFailures = new Set<string>();
  private gaugeTimer: NodeJS.Timeout | undefined;

  private readonly transactionsReceived = this.counter(
    'bigchaindb_transactions_received_total',
    'transactions POSTed to this node',
  );
  private readonly transactionsAccepted = this.counter(
    'bigchaindb_transactions_accepted_total',
    'POSTed transactions this node accepted into the backlog (or found there already)',
  );
  private readonly transactionsRefused = this.counter(
    'bigchaindb_transactions_refused_total',
    "POSTed transactions this node refused, by reason: the error's class (SchemaError, InvalidSignature, …)",
    ['reason'],
  );
  private readonly backlogWritten = this.counter(
    'bigchaindb_backlog_written_total',
    'transactions this node inserted into the backlog',
  );
  private readonly backlogWriteSeconds = this.histogram(
    'bigchaindb_backlog_write_seconds',
    'one admission round: its backlog insert',
    SECONDS_BUCKETS,
  );
  private readonly blocksWritten = this.counter(
    'bigchaindb_blocks_written_total',
    'blocks this node created and wrote',
  );
  private readonly transactionsWritten = this.counter(
    'bigchaindb_block_transactions_written_total',
    'transactions in the blocks this node wrote',
  );
  private readonly blockSize = this.histogram(
    'bigchaindb_block_size_transactions',
    'transactions per block this node wrote',
    BLOCK_SIZE_BUCKETS,
  );
  private readonly blockBuildSeconds = this.histogram(
    'bigchaindb_block_build_seconds',
    'building and signing a block (its transactions already validated)',
    SECONDS_BUCKETS,
  );
  private readonly blockWriteSeconds = this.histogram(
    'bigchaindb_block_write_seconds',
    'writing a block with its index rows, in one database transaction',
    SECONDS_BUCKETS,
  );
  private readonly votesCast = this.counter(
    'bigchaindb_votes_cast_total',
    'votes this node cast, by verdict',
    ['vote'],
  );
  private readonly blocksDecided = this.counter(
    'bigchaindb_blocks_decided_total',
    'elections this node recorded, by result: the first node to count the deciding votes records a ' +
      'block, so over the federation each block counts once',
    ['result'],
  );
  private readonly transactionsDecided = this.counter(
    'bigchaindb_block_transactions_decided_total',
    'transactions in the blocks whose election this node recorded, by result',
    ['result'],
  );
  private readonly electionSeconds = this.histogram(
    'bigchaindb_election_seconds',
    "from a block's timestamp (whole seconds) to the election this node recorded",
    ELECTION_BUCKETS,
  );
  private readonly staleReassigned = this.counter(
    'bigchaindb_stale_reassignments_total',
    'backlog transactions this node gave to another node after backlog_reassign_delay',
  );
  private readonly backlogSignatureChecks = this.counter(
    'bigchaindb_backlog_signature_checks_total',
    'backlog transactions the block pipeline took up, by check: skipped (the row carries this start of ' +
      "the node's tag: its admission, in an API worker or in the node process, checked them) or " +
      'verified (no such tag: checked by the block pipeline unless the node process already found them good)',
    ['check'],
  );
  private readonly signatureChecks = this.counter(
    'bigchaindb_signature_checks_total',
    "transactions whose fulfillments this process checked (worker threads, or the API worker's own thread)",
  );
  private readonly pipelineRestarts = this.counter(
    'bigchaindb_pipeline_restarts_total',
    'stages (block, vote, election, stale) restarted after a failure',
    ['stage'],
  );
  private readonly httpSeconds = this.histogram(
    'bigchaindb_http_request_duration_seconds',
    'HTTP API requests, by method, route (its path pattern) and status',
    SECONDS_BUCKETS,
    ['method', 'route', 'status'],
  );

  constructor(options: NodeMetricsOptions = {}) {
    this.log = options.log ?? silentLogger;
    for (const result of ['valid', 'invalid'] as const) {
      // Present at 0 from the start, so a rate over the first decisions is not lost.
      this.blocksDecided.inc({ result }, 0);
      this.transactionsDecided.inc({ result }, 0);
      this.votesCast.inc({ vote: result }, 0);
    }
    for (const check of ['skipped', 'verified'] as const) this.backlogSignatureChecks.inc({ check }, 0);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    const statsd = options.statsd;
    if (statsd && statsd.host !== '') {
      this.statsd = new StatsD({
        host: statsd.host,
        port: statsd.port,
        // The seed's prefix: the machine's name (0.6 wrote it with a second dot: `<host>..write_transaction`).
        prefix: `${hostname()}.bigchaindb.`,
        sampleRate: statsd.rate,
        cacheDns: true,
        // Several metrics a packet, flushed at least every second: one send per burst, not per event.
        maxBufferSize: 1200,
        bufferFlushInterval: 1000,
        // Counters summed in the process and sent once a second: one line per counter, not per event.
        aggregation: { flushInterval: 1000 },
        errorHandler: (error) => this.statsdFailed(error),
      });
    }
  }

  /** A POST reached admission. */
  transactionReceived(): void {
    this.transactionsReceived.inc();
    this.statsd?.increment('transactions.received');
  }

  /** A POST was admitted; `ms` from its arrival at admission to its answer (0.6's `write_transaction`). */
  transactionAccepted(ms: number): void {
    this.transactionsAccepted.inc();
    this.statsd?.increment('transactions.accepted');
    this.statsd?.timing('write_transaction', ms);
  }

  /** A POST was refused; `reason`: the class of its error (`SchemaError`, `DoubleSpend`, …). */
  transactionRefused(reason: string): void {
    this.transactionsRefused.inc({ reason });
    this.statsd?.increment(`transactions.refused.${reason}`);
  }

  /** An admission round inserted `rows` into the backlog in `seconds`. */
  backlogWrite(rows: number, seconds: number): void {
    this.backlogWritten.inc(rows);
    this.backlogWriteSeconds.observe(seconds);
    this.statsd?.increment('backlog.written', rows);
    this.statsd?.timing('backlog.write', seconds * 1000);
  }

  blockWritten(transactions: number, buildSeconds: number, writeSeconds: number): void {
    this.blocksWritten.inc();
    this.transactionsWritten.inc(transactions);
    this.blockSize.observe(transactions);
    this.blockBuildSeconds.observe(buildSeconds);
    this.blockWriteSeconds.observe(writeSeconds);
    this.statsd?.increment('blocks.written');
    this.statsd?.histogram('block.size', transactions);
    this.statsd?.timing('block.build', buildSeconds * 1000);
    this.statsd?.timing('block.write', writeSeconds * 1000);
  }

  votesWritten(valid: number, invalid: number): void {
    this.votesCast.inc({ vote: 'valid' }, valid);
    this.votesCast.inc({ vote: 'invalid' }, invalid);
    if (valid > 0) this.statsd?.increment('votes.valid', valid);
    if (invalid > 0) this.statsd?.increment('votes.invalid', invalid);
  }

  /** An election this node recorded: the block's transactions and seconds since its timestamp. */
  blockDecided(result: Decision, transactions: number, electionSeconds: number): void {
    this.blocksDecided.inc({ result });
    this.transactionsDecided.inc({ result }, transactions);
    this.electionSeconds.observe(electionSeconds);
    this.statsd?.increment(`blocks.${result}`);
    this.statsd?.increment(`blocks.${result}.transactions`, transactions);
    this.statsd?.timing('election', electionSeconds * 1000);
  }

  staleReassignments(count: number): void {
    this.staleReassigned.inc(count);
    this.statsd?.increment('stale.reassigned', count);
  }

  backlogSignatures(check: BacklogSignatureCheck): void {
    this.backlogSignatureChecks.inc({ check });
  }

  signaturesChecked(transactions: number): void {
    this.signatureChecks.inc(transactions);
    this.statsd?.increment('signatures.checked', transactions);
  }

  pipelineRestarted(stage: string): void {
    this.pipelineRestarts.inc({ stage });
    this.statsd?.increment(`pipeline.restarts.${stage}`);
  }

  /** An HTTP request answered; `route`: the path pattern it matched (`/transactions/{tx_id}`, …). */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpSeconds.observe({ method, route, status: String(status) }, seconds);
    // Per request: the StatsD name is only made when there is a StatsD to send it to.
    if (this.statsd === undefined) return;
    const name =
      route
        .replace(/[{}]/g, '')
        .replace(/[^A-Za-z0-9_]+/g, '_')
        .replace(/^_|_$/g, '') || 'root';
    this.statsd.timing(`http.${method.toLowerCase()}.${name}.${status}`, seconds * 1000);
  }

  /**
   * The node process's gauges: read at each scrape, and sent to StatsD every 10 s (not sampled: a gauge is
   * a level, not an event).
   */
  observe(gauges: NodeGauges): void {
    new Gauge({
      name: 'bigchaindb_backlog_transactions',
      help: 'transactions waiting in the backlog (for every node of the federation)',
      registers: [this.registry],
      async collect() {
        this.set(await gauges.backlogSize());
      },
    });
    new Gauge({
      name: 'bigchaindb_verify_pool_pending_jobs',
      help: 'signature-check jobs handed to the worker threads and not answered yet',
      registers: [this.registry],
      collect() {
        this.set(gauges.verifyPoolPending());
      },
    });
    if (this.statsd === undefined) return;
    const statsd = this.statsd;
    this.gaugeTimer = setInterval(() => {
      statsd.gauge('verify_pool.pending', gauges.verifyPoolPending(), 1);
      gauges.backlogSize().then(
        (size) => statsd.gauge('backlog.size', size, 1),
        (error: unknown) => this.statsdFailed(error),
      );
    }, GAUGE_INTERVAL_MS);
    this.gaugeTimer.unref();
  }

  snapshot(): Promise<MetricsSnapshot> {
    return this.registry.getMetricsAsJSON();
  }

  /** Stops the gauges and sends what StatsD packets are buffered. */
  async close(): Promise<void> {
    clearInterval(this.gaugeTimer);
    const statsd = this.statsd;
    if (statsd === undefined) return;
    await new Promise<void>((resolve) =>
      statsd.close((error) => {
        if (error !== undefined) this.statsdFailed(error);
        resolve();
      }),
    );
  }

  private statsdFailed(error: unknown): void {
    const code = (error as { code?: unknown }).code;
    const kind = typeof code === 'string' ? code : describeError(error);
    if (this.reportedFailures.has(kind)) return;
    this.reportedFailures.add(kind);
    this.log.warn(`StatsD: cannot send metrics (${describeError(error)}); the node goes on without them`);
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }
}

/** The Prometheus text of the metrics of several processes, counters summed. */
export async function renderMetrics(snapshots: readonly MetricsSnapshot[]): Promise<string> {
  return AggregatorRegistry.aggregate([...snapshots]).metrics();
}

/** The content type of `renderMetrics`' text. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
