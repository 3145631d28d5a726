import type { Logger } from '../node/log.ts';

/** The default interval of the INFO summary of requests answered. */
export const SUMMARY_INTERVAL_MS = 60_000;

/**
 * Each request is a DEBUG line; at INFO the API says every `intervalMs` how many it answered, by status,
 * with their latency — one line however busy the node is, none when it was idle.
 */
export class RequestSummary {
  private byStatus = new Map<number, number>();
  private latencies: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = SUMMARY_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  record(status: number, ms: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    this.latencies.push(ms);
  }

  /** Logs what was answered since the last summary, if anything. */
  flush(): void {
    const count = this.latencies.length;
    if (count === 0) return;
    const sorted = this.latencies.sort((a, b) => a - b);
    const at = (share: number) => sorted[Math.min(count - 1, Math.floor(share * count))] ?? 0;
    const statuses = Object.fromEntries([...this.byStatus].sort(([a], [b]) => a - b));
    const shown = Object.entries(statuses)
      .map(([status, n]) => `${status}×${n}`)
      .join(' ');
    this.log.info(
      `${count} requests in the last ${Math.round(this.intervalMs / 1000)} s: ${shown}; ` +
        `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${sorted[count - 1]} ms`,
      { requests: count, statuses, p50Ms: at(0.5), p95Ms: at(0.95), maxMs: sorted[count - 1] },
    );
    this.byStatus = new Map();
    this.latencies = [];
  }

  /** Stops the timer, after a last summary. */
  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
