/**
 * The seed's "internal watchdogs": a read-only audit of everything a node has stored. Blocks and votes are
 * kept as the canonical text that was hashed and signed, so each one can be re-verified from the database
 * alone; the statuses, the index tables (transactions, outputs, spends) and the no-double-spend invariant
 * are then checked against them. See docs/audit.md.
 *
 * Like backup, the audit reads one REPEATABLE READ, READ ONLY snapshot (a node may keep writing on a
 * PostgreSQL server meanwhile, and its statuses, votes and rows must be seen at one instant), walks the
 * blocks in insertion order a batch at a time through a cursor, every query on the snapshot's Storage.
 */
import { isRecord, type Block } from '../protocol/block.ts';
import { messageOf } from '../protocol/errors.ts';
import type { Transaction } from '../protocol/transaction.ts';
import { InvalidHash, SchemaError } from '../protocol/validation-errors.ts';
import {
  BASE_VALIDATION_STAGES,
  checkTransactionShape,
  computeTransactionId,
  verifyFulfillmentsInProcess,
  type FulfillmentsJob,
  type ValidationContext,
  type ValidationStages,
} from '../protocol/validation.ts';
import type { VerifyPool } from '../node/verify-pool.ts';
import { DatabaseDoesNotExist } from '../storage/errors.ts';
import type { BlockRecord, Storage } from '../storage/storage.ts';
import {
  checkBlockRecord,
  checkIndexRecords,
  checkStatus,
  checkVoteRecord,
  groupBy,
  safely,
  type AuditProblem,
  type CheckedBlock,
} from './audit-checks.ts';
import { wholeNumber } from './options.ts';

export { formatProblem, type AuditProblem, type AuditProblemKind } from './audit-checks.ts';

export interface AuditProgress {
  blocks: number;
  votes: number;
  /** transactions in the blocks walked, every copy counted */
  transactions: number;
}

export interface AuditReport extends AuditProgress {
  problems: AuditProblem[];
  /** problems found beyond `maxProblems`: passed to onProblem, counted here, not kept */
  omittedProblems: number;
}

export interface AuditOptions {
  /** blocks read per query; default 20 (a full block is 1000 transactions) */
  batchSize?: number;
  /** called after each batch of blocks with their votes and transactions */
  onProgress?(done: AuditProgress): void;
  /** called with each problem as it is found */
  onProblem?(problem: AuditProblem): void;
  /** problems kept in the report; default 10,000, so a wrecked database cannot exhaust memory */
  maxProblems?: number;
  /**
   * The federation's public keys: block creators and CREATE signers must be among them. Without it each
   * block's own voters stand for the federation, which checks that a block is internally consistent only.
   */
  federation?: readonly string[];
  /** checks the fulfillments on these worker threads instead of this one */
  pool?: VerifyPool;
  /**
   * The validation stages a transaction must pass: a consensus plugin's rules, so the audit holds stored
   * transactions to what the node accepts; default the base rules.
   */
  stages?: ValidationStages;
}

const DEFAULT_BATCH_SIZE = 20;
const DEFAULT_MAX_PROBLEMS = 10_000;

/**
 * Re-verifies every stored block, vote and transaction, and the statuses and index rows derived from them;
 * modifies nothing. Throws only when the audit itself cannot run (no database, a lost connection): every
 * inconsistency in the data is reported as a problem instead.
 */
export async function auditChain(storage: Storage, options: AuditOptions = {}): Promise<AuditReport> {
  const batchSize = wholeNumber(options.batchSize ?? DEFAULT_BATCH_SIZE, 'batchSize');
  const maxProblems = wholeNumber(options.maxProblems ?? DEFAULT_MAX_PROBLEMS, 'maxProblems', 0);
  if (!(await storage.isInitialized())) throw DatabaseDoesNotExist.named(storage.name);
  return storage.snapshot((snapshot) => new Audit(snapshot, options, batchSize, maxProblems).run());
}

/** The walk: every block in insertion order with its votes and index rows, then the checks across blocks. */
class Audit {
  private readonly done: AuditProgress = { blocks: 0, votes: 0, transactions: 0 };
  private readonly problems: AuditProblem[] = [];
  private omitted = 0;
  private genesisId: string | undefined;
  private seenBlocks = false;
  private seenGenesis = false;
  private readonly report = (problem: AuditProblem): void => {
    this.options.onProblem?.(problem);
    if (this.problems.length < this.maxProblems) this.problems.push(problem);
    else this.omitted++;
  };

  constructor(
    /** bound to the audit's snapshot */
    private readonly storage: Storage,
    private readonly options: AuditOptions,
    private readonly batchSize: number,
    private readonly maxProblems: number,
  ) {}

  async run(): Promise<AuditReport> {
    this.genesisId = await this.storage.meta('genesis_block');
    if (this.genesisId === undefined) {
      this.report({ kind: 'chain', blockId: '', message: 'bigchaindb_meta names no genesis block' });
    }
    // One batch's signatures are checked on the pool while the next batch is read and checked here; no
    // more than one is in flight, so memory stays bounded.
    let verifying: Promise<void> = Promise.resolve();
    await this.storage.forEachBlockRecord(this.batchSize, async (rows) => {
      const { verified } = await this.checkBatch(rows);
      // Handled here so that a failure is not "unhandled" while the previous batch is awaited; the await
      // below still throws it.
      verified.catch(() => undefined);
      await verifying;
      verifying = verified;
      this.options.onProgress?.({ ...this.done });
    });
    await verifying;
    if (this.genesisId !== undefined && !this.seenGenesis) {
      this.report({
        kind: 'chain',
        blockId: this.genesisId,
        message: 'the genesis block named in bigchaindb_meta is not stored',
      });
    }
    await this.checkOrphans();
    await this.checkValidDuplicates();
    this.options.onProgress?.({ ...this.done });
    return { ...this.done, problems: this.problems, omittedProblems: this.omitted };
  }

  /** Checks a batch; `verified` is the check of its fulfillments, which may still be running. */
  private async checkBatch(rows: readonly BlockRecord[]): Promise<{ verified: Promise<void> }> {
    const checked = rows.map((row) => this.checkBlock(row));
    const ids = rows.map((row) => row.id);
    const votes = groupBy(await this.storage.voteRecords(ids), (row) => row.block_id);
    for (const entry of checked) {
      const cast = [];
      for (const row of votes.get(entry.row.id) ?? []) {
        this.done.votes++;
        const vote = checkVoteRecord(row, entry.block, this.report);
        if (vote !== undefined) cast.push(vote);
      }
      checkStatus(entry, cast, this.report);
    }
    checkIndexRecords(checked, await this.storage.indexRecords(ids), this.report);
    const { verified } = await this.checkTransactions(checked);
    this.done.blocks += rows.length;
    return { verified };
  }

  private checkBlock(row: BlockRecord): CheckedBlock {
    // Without the meta row, the first block stands for the genesis block (the meta problem is reported).
    const genesis = this.genesisId === undefined ? !this.seenBlocks : row.id === this.genesisId;
    if (!this.seenBlocks && this.genesisId !== undefined && !genesis) {
      this.report({
        kind: 'chain',
        blockId: row.id,
        message: `the first stored block is not the genesis block ${this.genesisId}`,
      });
    }
    this.seenBlocks = true;
    if (genesis) this.seenGenesis = true;
    return checkBlockRecord(row, genesis, this.options.federation, this.report);
  }

  // --- transactions -------------------------------------------------------------------------------------

  /**
   * The transactions of the batch through the validation stages every other path composes: the prepare
   * stage here, against the valid blocks, then one fulfillments stage for the batch, on the pool when
   * there is one. `verified` is that last stage, which may still be running.
   */
  private async checkTransactions(checked: readonly CheckedBlock[]): Promise<{ verified: Promise<void> }> {
    const candidates: { entry: CheckedBlock; value: unknown }[] = [];
    for (const entry of checked) {
      const block = entry.block;
      if (block === undefined) continue;
      this.done.transactions += block.block.transactions.length;
      // A block decided invalid may well hold invalid transactions: that is why it was voted down. Its
      // transactions are checked only when the block was changed after signing, to name which one was.
      const votedDown = entry.row.status === 'invalid' || entry.outcome === 'invalid';
      if (votedDown && entry.intact) continue;
      for (const value of block.block.transactions) candidates.push({ entry, value });
    }
    const sources = await this.validSources(candidates.flatMap(({ value }) => spentTxids(value)));
    const stages = this.options.stages ?? BASE_VALIDATION_STAGES;
    const jobs: FulfillmentsJob[] = [];
    const owners: { blockId: string; txid: string }[] = [];
    for (const { entry, value } of candidates) {
      const block = entry.block as Block;
      const blockId = entry.row.id;
      try {
        const job = await stages.prepareTransaction(
          auditContext(block, entry.genesis, sources, this.options),
          value,
        );
        jobs.push(job);
        owners.push({ blockId, txid: job.tx.id });
      } catch (error) {
        // Validation errors, and anything else a tampered document makes the checks throw.
        const named = isRecord(value) && typeof value.id === 'string' ? { txid: value.id } : {};
        this.report({ kind: 'transaction', blockId, ...named, message: preparedMessage(error) });
      }
    }
    const verify =
      this.options.pool === undefined
        ? verifyFulfillmentsInProcess
        : (batch: readonly FulfillmentsJob[]) => this.options.pool!.verify(batch);
    const verified = stages.verifyFulfillments(jobs, verify).then((failures) =>
      failures.forEach((failure, i) => {
        const owner = owners[i];
        if (failure !== null && owner !== undefined) {
          this.report({ kind: 'transaction', ...owner, message: failure.message });
        }
      }),
    );
    return { verified };
  }

  /**
   * An intact copy, from a valid block, of each transaction spent: a transaction's inputs must have been
   * valid when it was validated, and a valid block stays valid. A copy whose id is not its hash (an edited
   * index row) is left out; the index check reports it.
   */
  private async validSources(txids: readonly string[]): Promise<Map<string, Transaction>> {
    const sources = new Map<string, Transaction>();
    if (txids.length === 0) return sources;
    const rows = await this.storage.validTransactionTexts([...new Set(txids)]);
    for (const row of rows) {
      if (sources.has(row.tx_id)) continue;
      const tx = safely(() => checkTransactionShape(JSON.parse(row.doc)), undefined);
      if (
        tx !== undefined &&
        tx.id === row.tx_id &&
        safely(() => computeTransactionId(tx) === tx.id, false)
      ) {
        sources.set(row.tx_id, tx);
      }
    }
    return sources;
  }

  // --- across blocks ------------------------------------------------------------------------------------

  /** Votes and index rows naming a block that is not stored (the block walk never reaches them). */
  private async checkOrphans(): Promise<void> {
    for (const vote of await this.storage.orphanedVotes()) {
      this.done.votes++;
      this.report({
        kind: 'vote',
        blockId: vote.block_id,
        voter: vote.voter,
        message: 'the block it is on is not stored',
      });
    }
    for (const row of await this.storage.orphanedIndexRows()) {
      this.report({
        kind: 'transaction',
        blockId: row.block_id,
        ...(row.n === 1 ? { txid: row.txid } : {}),
        message: `${row.n} ${row.tab} row${row.n === 1 ? '' : 's'} name this block, which is not stored`,
      });
    }
  }

  /**
   * The no-double-spend invariant over valid blocks, in SQL over the index rows (a set of every valid
   * transaction would not fit in memory at 1M): the index rows were compared with the blocks above, so
   * any row that does not stand for its block has been reported already.
   */
  private async checkValidDuplicates(): Promise<void> {
    for (const row of await this.storage.transactionsInSeveralValidBlocks()) {
      const blocks = row.blocks.split(' ');
      this.report({
        kind: 'chain',
        blockId: blocks.at(-1) ?? '',
        txid: row.tx_id,
        message: `the transaction is in ${row.n} valid blocks: ${blocks.join(', ')}`,
      });
    }
    for (const row of await this.storage.outputsSpentInSeveralValidBlocks()) {
      this.report({
        kind: 'chain',
        blockId: row.last_block,
        txid: row.last_spender,
        message: `output ${row.input_txid}:${row.input_cid} is spent by more than one transaction of valid blocks: ${row.spenders}`,
      });
    }
  }
}

/** The audit's words for a prepare-stage failure of a stored transaction. */
function preparedMessage(error: unknown): string {
  if (error instanceof InvalidHash) {
    return `the id is not the hash of the transaction body (${String(error.details.computed)}): it was changed after it was made`;
  }
  if (error instanceof SchemaError) return `not a well-formed transaction: ${error.message}`;
  return messageOf(error);
}

/** The ids of the transactions a stored transaction spends, as far as its document can be read. */
function spentTxids(value: unknown): string[] {
  if (!isRecord(value) || !isRecord(value.transaction)) return [];
  const fulfillments = value.transaction.fulfillments;
  if (!Array.isArray(fulfillments)) return [];
  return fulfillments.flatMap((f: unknown) =>
    isRecord(f) && isRecord(f.input) && typeof f.input.txid === 'string' ? [f.input.txid] : [],
  );
}

/**
 * What validation asks of the chain, answered for the audit: the spent transactions in valid blocks
 * (loaded per batch); spenders and replays are not asked here, they are checked across all valid blocks
 * at the end. The block's time: a timeout condition is judged as when the block was made, not as of today.
 */
function auditContext(
  block: Block,
  genesis: boolean,
  sources: ReadonlyMap<string, Transaction>,
  options: AuditOptions,
): ValidationContext {
  return {
    federation: options.federation ?? block.block.voters,
    now: () => block.block.timestamp,
    getValidTransaction: (txid) => sources.get(txid),
    getSpender: () => undefined,
    isInChain: () => false,
    allowGenesis: genesis,
  };
}
