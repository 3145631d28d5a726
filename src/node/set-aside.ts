import { isDatabaseUnavailable } from '../storage/errors.ts';
import { describeError, type Logger } from './log.ts';
import { Wakeup } from './wakeup.ts';

/** how often a retry loop looks at the set-aside items when none is due sooner */
const IDLE_CHECK_MS = 1_000;

/** A block or transaction a stage failed to process, set aside to be retried later. */
export interface SetAsideItem {
  kind: 'block' | 'transaction';
  id: string;
  /** the stage that could not process it */
  stage: string;
  /** the last failure */
  cause: string;
  attempts: number;
  since: Date;
}

export interface SetAsideOptions {
  /** failed attempts before an item is reported (an ERROR, and the node is not ready); default 3 */
  reportAfter?: number;
  /** delay before the first retry, doubling up to maxRetryMs; default 1 s */
  minRetryMs?: number;
  /** default 60 s */
  maxRetryMs?: number;
}

interface Entry extends SetAsideItem {
  retryAt: number;
}

/**
 * The blocks (vote, election) or backlog transactions (block pipeline) one stage could not process, so that
 * one item the stage fails on — for a reason of its own, not the database being down — does not hold up
 * everything after it, and is not retried in a quiet loop either. The stage skips an item set aside here and
 * retries it when due, with a growing delay; nothing is decided or deleted on its account. After
 * `reportAfter` failed attempts the item is reported: an ERROR once, with its id and the cause, and it
 * counts against the node's readiness until an attempt succeeds (an INFO then).
 *
 * Kept by the node, not by the stage instance, so a stage restarted by the supervisor still knows.
 */
export class SetAside {
  private readonly entries = new Map<string, Entry>();
  private readonly reportAfter: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  /** items reported since the node started (a counter for monitoring) */
  reportedTotal = 0;

  constructor(
    readonly stage: string,
    readonly kind: SetAsideItem['kind'],
    private readonly log: Logger,
    options: SetAsideOptions = {},
  ) {
    this.reportAfter = options.reportAfter ?? 3;
    this.minRetryMs = options.minRetryMs ?? 1_000;
    this.maxRetryMs = options.maxRetryMs ?? 60_000;
  }

  /** Whether the item is set aside: the normal flow skips it, `due()` says when to try again. */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The items set aside whose retry time has come. */
  due(now = Date.now()): string[] {
    return [...this.entries.values()].filter((entry) => entry.retryAt <= now).map((entry) => entry.id);
  }

  /** ms until the next retry is due (Infinity when nothing is set aside). */
  nextDueIn(now = Date.now()): number {
    let next = Infinity;
    for (const entry of this.entries.values()) next = Math.min(next, entry.retryAt - now);
    return Math.max(0, next);
  }

  /** The items reported: failed reportAfter times or more and not processed since. */
  reported(): SetAsideItem[] {
    return [...this.entries.values()]
      .filter((entry) => entry.attempts >= this.reportAfter)
      .map(({ retryAt: _, ...item }) => ({ ...item }));
  }

  /**
   * Runs a stage's main loop with `retry` called on the items set aside here as their retries come due. A
   * failure of either ends both — `interrupt` makes `main` return, by closing its feed — and is thrown.
   */
  async runWithRetries(stage: {
    main: () => Promise<void>;
    retry: (ids: string[]) => Promise<void>;
    interrupt: () => Promise<void>;
  }): Promise<void> {
    const wakeup = new Wakeup();
    let done = false;
    const retrying = (async () => {
      try {
        while (!done) {
          await wakeup.sleep(Math.min(this.nextDueIn(), IDLE_CHECK_MS));
          const due = this.due();
          if (due.length > 0 && !done) await stage.retry(due);
        }
      } catch (error) {
        await stage.interrupt();
        throw error;
      }
    })();
    try {
      await stage.main();
    } finally {
      done = true;
      wakeup.wake();
      await stage.interrupt();
      await retrying.catch(() => {});
    }
    await retrying;
  }

  /**
   * Runs `work` for one item. A failure is recorded and the item set aside (false is returned); the
   * database being unavailable is not the item's fault, so that is thrown, for the stage to be restarted.
   */
  async attempt(id: string, work: () => Promise<void>): Promise<boolean> {
    try {
      await work();
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      this.failed(id, error);
      return false;
    }
    const entry = this.entries.get(id);
    if (entry !== undefined) {
      this.entries.delete(id);
      if (entry.attempts >= this.reportAfter)
        this.log.info(`${this.kind} ${id} processed after ${entry.attempts} failed attempts`);
    }
    return true;
  }

  private failed(id: string, error: unknown): void {
    const cause = describeError(error);
    const entry: Entry = this.entries.get(id) ?? {
      kind: this.kind,
      id,
      stage: this.stage,
      cause,
      attempts: 0,
      since: new Date(),
      retryAt: 0,
    };
    entry.attempts++;
    entry.cause = cause;
    const delay = Math.min(this.maxRetryMs, this.minRetryMs * 2 ** (entry.attempts - 1));
    entry.retryAt = Date.now() + delay;
    this.entries.set(id, entry);
    const details = { [this.kind === 'block' ? 'blockId' : 'txid']: id, attempts: entry.attempts };
    if (entry.attempts < this.reportAfter) {
      this.log.warn(
        `could not process ${this.kind} ${id}, set aside, retrying in ${delay} ms: ${cause}`,
        details,
      );
    } else if (entry.attempts === this.reportAfter) {
      this.reportedTotal++;
      this.log.error(
        `cannot process ${this.kind} ${id}: failed ${entry.attempts} times, last with ${cause}; it is ` +
          `set aside and retried every ${this.maxRetryMs / 1000} s at most, the ${this.kind}s after it go on ` +
          '(see docs/node.md, "When a stage cannot make progress")',
        // The error itself too: its stack and cause chain say where it came from.
        { ...details, err: error },
      );
    } else {
      this.log.debug(`${this.kind} ${id} failed again: ${cause}`, details);
    }
  }
}
