import type { Bigchain } from './bigchain.ts';
import type { Logger } from './log.ts';
import type { Stage } from './supervisor.ts';
import type { NodeMetrics } from './metrics.ts';
import { Wakeup } from './wakeup.ts';

/**
 * Stale transactions (the seed's Timestamps page; 0.7 stale.py): a backlog transaction assigned longer than
 * the reassign delay — its node is down, or too slow — is given to another federation node at random, whose
 * block pipeline then sees it through its changefeed. Every node runs this; the database's row locks make
 * one of them move each transaction.
 */
export class StalePipeline implements Stage {
  readonly name = 'stale';
  private readonly wakeup = new Wakeup();
  private stopping = false;
  /** transactions moved by this instance (for tests) */
  reassigned = 0;

  constructor(
    private readonly bigchain: Bigchain,
    private readonly log: Logger,
    private readonly delayMs: number,
    private readonly metrics: NodeMetrics,
  ) {}

  async run(): Promise<void> {
    // Checking twice per delay (at most every second) keeps the worst wait near delay × 1.5.
    const interval = Math.min(1_000, Math.max(50, this.delayMs / 2));
    while (!this.stopping) {
      const moved = await this.bigchain.storage.reassignStale(this.delayMs, this.bigchain.federation);
      if (moved.length > 0) {
        this.reassigned += moved.length;
        this.metrics.staleReassignments(moved.length);
        this.log.info(`Reassigned ${moved.length} transactions waiting longer than ${this.delayMs} ms`);
      }
      await this.wakeup.sleep(interval);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeup.wake();
  }
}
