import type { SqlDriver } from './driver.ts';
import { feedChannel, type FeedTable } from './schema.ts';

/**
 * Where a reader of a feed table stands: rows are read in (xid, seq) order, xid being the writing
 * transaction. Values are decimal strings (xid8 and bigint do not fit a JS number in general).
 */
export interface FeedPosition {
  xid: string;
  seq: string;
}

export const FEED_START: FeedPosition = { xid: '0', seq: '0' };

/** One fetched row: its position, whether its writer is known settled, and the mapped value. */
export interface FeedFetchRow<T> {
  position: FeedPosition;
  /** xid below the oldest running writer: no row can ever appear before this one any more */
  settled: boolean;
  value: T;
}

export type FeedFetch<T> = (after: FeedPosition, limit: number) => Promise<FeedFetchRow<T>[]>;

export interface ChangefeedOptions {
  /** rows per batch (default 1000) */
  batchSize?: number;
  /** called when a fetch fails (lost connection, server restart); the feed retries with backoff */
  onError?: (error: unknown) => void;
}

const HELD_BACK_RETRY_MS = 5;
const ERROR_RETRY_MIN_MS = 50;
const ERROR_RETRY_MAX_MS = 2_000;

/**
 * Every row inserted into a table after a position, in batches, exactly once each, including rows written
 * while this process was down or disconnected.
 *
 * Sequence numbers are taken when rows are inserted, not when they commit, so a reader that only remembered
 * the highest seq it saw could skip a row whose transaction committed later. Rows are therefore delivered
 * in (xid, seq) order and only once their xid is below the oldest still-running writer
 * (pg_snapshot_xmin): no row can ever appear behind such a position. Rows held back for a running writer
 * are re-read after a few milliseconds; NOTIFY wakes the reader as soon as anything commits.
 */
export class Changefeed<T> implements AsyncIterable<T[]> {
  private position: FeedPosition;
  private readonly batchSize: number;
  private woken = true;
  private wake: (() => void) | undefined;
  private closed = false;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly driver: SqlDriver,
    private readonly table: FeedTable,
    private readonly fetch: FeedFetch<T>,
    after: FeedPosition,
    private readonly options: ChangefeedOptions = {},
  ) {
    this.position = after;
    this.batchSize = options.batchSize ?? 1000;
  }

  /** The position after the last row delivered: persist it to resume a later feed from there. */
  get cursor(): FeedPosition {
    return this.position;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T[]> {
    let errorDelay = ERROR_RETRY_MIN_MS;
    try {
      while (!this.closed) {
        this.woken = false;
        let rows: FeedFetchRow<T>[];
        try {
          // Subscribe before the first read, so nothing committed between the two is missed.
          this.unlisten ??= await this.driver.listen(feedChannel(this.table), this.onWake);
          rows = await this.fetch(this.position, this.batchSize);
          errorDelay = ERROR_RETRY_MIN_MS;
        } catch (error) {
          if (this.closed) break;
          this.options.onError?.(error);
          await this.sleep(errorDelay);
          errorDelay = Math.min(errorDelay * 2, ERROR_RETRY_MAX_MS);
          continue;
        }
        const settledCount = rows.findIndex((row) => !row.settled);
        const ready = settledCount === -1 ? rows : rows.slice(0, settledCount);
        const last = ready.at(-1);
        if (last !== undefined) {
          this.position = last.position;
          yield ready.map((row) => row.value);
        }
        if (ready.length === this.batchSize) continue;
        if (settledCount !== -1) await this.sleep(HELD_BACK_RETRY_MS);
        else await this.waitForWake();
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.signal();
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.();
  }

  /** One function for every subscription attempt, so a retried listen() does not register it twice. */
  private readonly onWake = (): void => this.signal();

  private signal(): void {
    this.woken = true;
    this.wake?.();
  }

  private waitForWake(): Promise<void> {
    if (this.woken || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** A delay that a notification or close() cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
