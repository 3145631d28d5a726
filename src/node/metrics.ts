/**
 * What a node counts about itself, for `GET /metrics` (Prometheus text format, docs/monitoring.md). Each
 * process of a node (the `start` process and its HTTP API workers) keeps its own registry; the one that
 * answers a scrape sums them all (`renderMetrics`).
 */
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';

/** One process's metrics as values (what crosses the IPC channel to the process answering a scrape). */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export type Decision = 'valid' | 'invalid';
/** a backlog transaction's signatures: checked at this node's admission (its tag on the row), or not */
export type BacklogSignatureCheck = 'skipped' | 'verified';

export class NodeMetrics {
  readonly registry = new Registry();
  readonly blocksWritten = new Counter({
    name: 'bigchaindb_blocks_written_total',
    help: 'blocks this node created and wrote',
    registers: [this.registry],
  });
  readonly transactionsWritten = new Counter({
    name: 'bigchaindb_block_transactions_written_total',
    help: 'transactions in the blocks this node wrote',
    registers: [this.registry],
  });
  readonly blocksDecided = new Counter({
    name: 'bigchaindb_blocks_decided_total',
    help:
      'elections this node recorded, by result: the first node to count the deciding votes records a ' +
      'block, so over the federation each block counts once',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly transactionsDecided = new Counter({
    name: 'bigchaindb_block_transactions_decided_total',
    help: 'transactions in the blocks whose election this node recorded, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly backlogSignatureChecks = new Counter({
    name: 'bigchaindb_backlog_signature_checks_total',
    help:
      'backlog transactions the block pipeline took up, by check: skipped (the row carries this start of ' +
      "the node's tag: its admission, in an API worker or in the node process, checked their signatures) or " +
      'verified (no such tag: checked by the block pipeline unless the node process already found them good)',
    labelNames: ['check'] as const,
    registers: [this.registry],
  });

  /**
   * `processMetrics`: also the process's CPU, memory, event-loop and GC metrics (prom-client's defaults);
   * for a node's own process only, as each registry that has them observes the whole process.
   */
  constructor(options: { processMetrics?: boolean } = {}) {
    for (const result of ['valid', 'invalid'] as const) {
      // Present at 0 from the start, so a rate over the first decisions is not lost.
      this.blocksDecided.inc({ result }, 0);
      this.transactionsDecided.inc({ result }, 0);
    }
    for (const check of ['skipped', 'verified'] as const) this.backlogSignatureChecks.inc({ check }, 0);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  blockDecided(result: Decision, transactions: number): void {
    this.blocksDecided.inc({ result });
    this.transactionsDecided.inc({ result }, transactions);
  }

  backlogSignatures(check: BacklogSignatureCheck): void {
    this.backlogSignatureChecks.inc({ check });
  }

  blockWritten(transactions: number): void {
    this.blocksWritten.inc();
    this.transactionsWritten.inc(transactions);
  }

  snapshot(): Promise<MetricsSnapshot> {
    return this.registry.getMetricsAsJSON();
  }
}

/** The Prometheus text of the metrics of several processes, counters summed. */
export async function renderMetrics(snapshots: readonly MetricsSnapshot[]): Promise<string> {
  return AggregatorRegistry.aggregate([...snapshots]).metrics();
}

/** The content type of `renderMetrics`' text. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
