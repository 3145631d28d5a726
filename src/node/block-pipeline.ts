import { setTimeout as delay } from 'node:timers/promises';
import type { Transaction } from '../protocol/transaction.ts';
import { serialize } from '../protocol/json.ts';
import { ReplayError } from '../protocol/validation-errors.ts';
import type { Changefeed } from '../storage/changefeed.ts';
import { BlockConflictError, isDatabaseUnavailable } from '../storage/errors.ts';
import type { BacklogEntry } from '../storage/storage.ts';
import type { Bigchain } from './bigchain.ts';
import type { BoundedSet } from './bounded-set.ts';
import { selectTransactions, type Selection } from './block-builder.ts';
import { describeError, type Logger } from './log.ts';
import type { NodeMetrics } from './metrics.ts';
import type { SetAside } from './set-aside.ts';
import type { Stage } from './supervisor.ts';
import type { VerifiedSignatures } from './verified-signatures.ts';
import type { VerifyPool } from './verify-pool.ts';
import { Wakeup } from './wakeup.ts';

export interface BlockPipelineOptions {
  /** transactions per block at most (0.6: 1000) */
  blockSize: number;
  /** how long the first waiting transaction may wait for the block to fill, in ms */
  timeoutMs: number;
}

interface Pending {
  transaction: Transaction;
  /** its backlog text, when the row's tag vouches it is canonical (written by this start of the node) */
  text: string | undefined;
  arrivedAt: number;
}

/** A block on its way to the database; the next one is validated meanwhile, counting it as written. */
interface InFlight {
  accepted: readonly Transaction[];
  /** false when the block was refused (its transactions were put back to be validated again) */
  written: Promise<boolean>;
  /** set once `written` resolved: from then on the database itself answers for the block */
  landed: boolean;
}

/**
 * The block pipeline: the backlog transactions assigned to this node (all of them at start, then as they
 * come) are batched, validated (signatures on the worker pool, unless this node's API workers checked them:
 * VerifiedSignatures.acceptTag; then only the checks against the chain are made and the row's text goes
 * into the block as it is), packed into a signed block of at most `blockSize` and written; the block
 * write removes them from the backlog in the same database transaction, so a crash loses nothing. A block
 * is cut when it is full or `timeoutMs` after its first transaction came.
 * Invalid transactions leave the backlog for the `rejected` table with their reason; one that is already in
 * a live block (a replay, or a reassigned copy another node packed first) is just removed.
 *
 * While one block is written the next is validated, against the chain plus the block in flight. If the
 * database refuses the block in flight (another node packed a conflicting transaction first), the next one
 * is not written either: both batches are validated again against the chain as it now is.
 */
export class BlockPipeline implements Stage {
  readonly name = 'block';
  private pending = new Map<string, Pending>();
  private readonly wakeup = new Wakeup();
  private feed: Changefeed<BacklogEntry> | undefined;
  private stopping = false;
  /** what the changefeed reader failed with, boxed: the thrown value may be anything */
  private readerFailure: { error: unknown } | undefined;

  constructor(
    private readonly bigchain: Bigchain,
    private readonly pool: VerifyPool,
    private readonly verified: VerifiedSignatures,
    /** the blocks this node wrote, so that its vote on them need not validate their transactions again */
    private readonly builtBlocks: BoundedSet<string>,
    private readonly log: Logger,
    private readonly options: BlockPipelineOptions,
    /** backlog transactions this stage could not validate, retried when due (kept by the node) */
    private readonly setAside: SetAside,
    private readonly metrics: NodeMetrics,
  ) {}

  async run(): Promise<void> {
    const storage = this.bigchain.storage;
    const feed = storage.backlogFeed({
      assignee: this.bigchain.me,
      batchSize: this.options.blockSize,
      onError: (error) => this.log.warn(`backlog changefeed: ${describeError(error)}; retrying`),
    });
    this.feed = feed;
    const reading = this.read(feed);
    try {
      await this.build();
    } finally {
      this.stopping = true;
      await feed.close();
      await reading;
    }
    if (this.readerFailure !== undefined) throw this.readerFailure.error;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeup.wake();
    await this.feed?.close();
  }

  private async read(feed: Changefeed<BacklogEntry>): Promise<void> {
    try {
      for await (const entries of feed) {
        const now = Date.now();
        for (const entry of entries) {
          // One set aside comes back when its retry is due (takeDueRetries), not with every redelivery.
          if (this.setAside.has(entry.transaction.id)) continue;
          if (!this.pending.has(entry.transaction.id)) this.takeUp(entry, now);
        }
        this.log.debug(`${entries.length} backlog transactions assigned`, { pending: this.pending.size });
        this.wakeup.wake();
      }
    } catch (error) {
      this.readerFailure = { error };
      this.stopping = true;
      this.wakeup.wake();
    }
  }

  private async build(): Promise<void> {
    let inFlight: InFlight | undefined;
    try {
      while (await this.nextBatchDue()) {
        const batch = this.take();
        const validating = performance.now();
        const counted = inFlight?.landed === false ? inFlight.accepted : [];
        const selection = await this.select(
          batch.map((entry) => entry.transaction),
          counted,
        );
        this.log.debug(`validated ${batch.length} in ${Math.round(performance.now() - validating)} ms`);
        if (inFlight !== undefined && !(await inFlight.written)) {
          this.putBack(batch);
          inFlight = undefined;
          continue;
        }
        const written = this.commit(batch, selection, new Set(counted.map((tx) => tx.id)));
        const next: InFlight = { accepted: selection.accepted, written, landed: false };
        // Awaited later; the handler also keeps a failure from counting as unhandled meanwhile.
        written.then(
          () => (next.landed = true),
          () => {},
        );
        inFlight = next;
      }
    } finally {
      // Stopping or failing: the block in flight is finished, whatever comes next.
      await inFlight?.written;
    }
  }

  /**
   * The batch validated for a block. Should validating it fail (throw, rather than find transactions
   * invalid) for a reason other than the database, each transaction is tried alone and those that fail
   * alone are set aside, left in the backlog, so one transaction the node cannot process does not stop every
   * block. When every one not yet set aside fails alone, the fault is not theirs: the failure is the stage's.
   */
  private async select(
    candidates: readonly Transaction[],
    inFlight: readonly Transaction[],
  ): Promise<Selection> {
    const options = { verified: this.verified, inFlight };
    let failure: unknown;
    try {
      const selection = await selectTransactions(this.bigchain, this.pool, candidates, options);
      // Retried and processed this time: no longer set aside.
      for (const tx of candidates)
        if (this.setAside.has(tx.id)) await this.setAside.attempt(tx.id, async () => {});
      return selection;
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      failure = error;
    }
    const alone = await Promise.all(
      candidates.map((tx) =>
        selectTransactions(this.bigchain, this.pool, [tx], options).then(
          () => undefined,
          (error: unknown) => ({ error }),
        ),
      ),
    );
    // Retries of transactions already set aside say nothing about the rest: judge by the others.
    const fresh = candidates.flatMap((tx, i) => (this.setAside.has(tx.id) ? [] : [alone[i]]));
    if (fresh.length > 0 && fresh.every((outcome) => outcome !== undefined)) throw failure;
    const kept: Transaction[] = [];
    for (const [i, tx] of candidates.entries()) {
      const outcome = alone[i];
      const processed = await this.setAside.attempt(tx.id, async () => {
        if (outcome !== undefined) throw outcome.error;
      });
      if (processed) kept.push(tx);
    }
    return selectTransactions(this.bigchain, this.pool, kept, options);
  }

  /**
   * Waits until a block is due: full, or its first transaction waited timeoutMs. False once stopping.
   * Transactions set aside whose retry is due rejoin the queue meanwhile.
   */
  private async nextBatchDue(): Promise<boolean> {
    for (;;) {
      if (this.stopping) return false;
      await this.takeDueRetries();
      if (this.pending.size >= this.options.blockSize) return true;
      const first = this.pending.values().next().value;
      const retry = this.setAside.nextDueIn();
      if (first === undefined) {
        await this.wakeup.sleep(retry);
        continue;
      }
      const wait = first.arrivedAt + this.options.timeoutMs - Date.now();
      if (wait <= 0) return true;
      await this.wakeup.sleep(Math.min(wait, retry));
    }
  }

  /** The set-aside transactions due for a retry, back from the backlog into the queue. */
  private async takeDueRetries(): Promise<void> {
    const due = this.setAside.due();
    if (due.length === 0) return;
    const waiting = await this.bigchain.storage.getBacklog(due);
    const now = Date.now();
    for (const id of due) {
      const entry = waiting.get(id);
      // Gone from the backlog (or given to another node) meanwhile: nothing left to do here.
      if (entry === undefined || entry.assignee !== this.bigchain.me) {
        await this.setAside.attempt(id, async () => {});
      } else if (!this.pending.has(id)) {
        this.takeUp(entry, now);
      }
    }
  }

  /**
   * Queues a backlog transaction; one whose row carries this node's tag was checked alone (shape, id,
   * signatures) by one of the node's API workers, and written as canonical text: neither is done again.
   */
  private takeUp(entry: BacklogEntry, arrivedAt: number): void {
    const tagged =
      entry.verifiedTag !== null && this.verified.acceptTag(entry.transaction, entry.text, entry.verifiedTag);
    this.metrics.backlogSignatures(tagged ? 'skipped' : 'verified');
    this.pending.set(entry.transaction.id, {
      transaction: entry.transaction,
      text: tagged ? entry.text : undefined,
      arrivedAt,
    });
  }

  private take(): Pending[] {
    const batch: Pending[] = [];
    for (const [id, entry] of this.pending) {
      if (batch.length === this.options.blockSize) break;
      batch.push(entry);
      this.pending.delete(id);
    }
    return batch;
  }

  /** Returns a batch to the front of the queue, to be validated again. */
  private putBack(batch: readonly Pending[]): void {
    const rest = this.pending;
    this.pending = new Map(batch.map((entry) => [entry.transaction.id, entry]));
    for (const [id, entry] of rest) if (!this.pending.has(id)) this.pending.set(id, entry);
    this.wakeup.wake();
  }

  /**
   * Writes the block, then records the rejections. `inFlightIds` were counted as in the chain because the
   * previous block held them: that block's own write removed them from the backlog, so they are not deleted
   * here (a copy requeued since, from that block decided invalid, must stay).
   */
  private async commit(
    batch: readonly Pending[],
    selection: Selection,
    inFlightIds: ReadonlySet<string>,
  ): Promise<boolean> {
    const storage = this.bigchain.storage;
    if (selection.accepted.length > 0) {
      const started = performance.now();
      const texts = new Map(batch.map((entry) => [entry.transaction, entry.text]));
      const transactionTexts = selection.accepted.map((tx) => texts.get(tx) ?? serialize(tx));
      const block = this.bigchain.createBlock(selection.accepted, transactionTexts);
      const created = performance.now();
      // Before the write: the vote pipeline may see the block before writeBlock returns here.
      this.builtBlocks.add(block.id);
      try {
        await this.bigchain.writeBlock(block, transactionTexts);
      } catch (error) {
        if (!(error instanceof BlockConflictError)) throw error;
        this.log.warn(`${error.message}; validating its transactions again`, { conflicts: error.conflicts });
        // The same transactions packed again within the same second would make the same block id.
        if (error.conflicts.some((conflict) => conflict.kind === 'block')) await delay(1_000);
        this.putBack(batch);
        return false;
      }
      const written = performance.now();
      this.metrics.blockWritten(
        selection.accepted.length,
        (created - started) / 1000,
        (written - created) / 1000,
      );
      this.log.info(`Write new block ${block.id} with ${selection.accepted.length} transactions`, {
        signMs: Math.round(created - started),
        writeMs: Math.round(written - created),
      });
    }
    const replays: string[] = [];
    const rejections: { transaction: Transaction; reason: string }[] = [];
    for (const { transaction, reason } of selection.rejected) {
      const tx = transaction as Transaction;
      if (reason instanceof ReplayError) {
        if (!inFlightIds.has(tx.id)) replays.push(tx.id);
      } else rejections.push({ transaction: tx, reason: `${reason.name}: ${reason.message}` });
    }
    if (rejections.length > 0) {
      await storage.rejectTransactions(rejections);
      this.log.info(`Rejected ${rejections.length} invalid transactions`, {
        rejected: rejections.slice(0, 10).map((r) => ({ id: r.transaction.id, reason: r.reason })),
      });
    }
    if (replays.length > 0) await storage.deleteIncludedFromBacklog(replays);
    return true;
  }
}
