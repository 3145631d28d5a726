import type { Block } from '../protocol/block.ts';
import { errorCode } from '../protocol/errors.ts';
import type { Transaction, TransactionInput } from '../protocol/transaction.ts';
import type { Vote } from '../protocol/vote.ts';
import {
  Changefeed,
  FEED_START,
  type ChangefeedOptions,
  type FeedFetchRow,
  type FeedPosition,
} from './changefeed.ts';
import type { SqlDriver, SqlSession } from './driver.ts';
import { DatabaseAlreadyExists, DatabaseDoesNotExist, StorageError } from './errors.ts';
import * as audit from './queries/audit.ts';
import * as backlog from './queries/backlog.ts';
import * as blocks from './queries/blocks.ts';
import * as feeds from './queries/feeds.ts';
import * as operations from './queries/operations.ts';
import type { DerivedRows } from './rows.ts';
import * as schema from './queries/schema.ts';
import * as transactions from './queries/transactions.ts';
import * as votes from './queries/votes.ts';
import { SCHEMA_VERSION, type FeedTable } from './schema.ts';
import type { BlockRecord, IndexRecords, VoteRecord } from './queries/audit.ts';
import type { BacklogEntry, NewBacklogEntry, RejectedTransaction } from './queries/backlog.ts';
import type { StoredBlock } from './queries/blocks.ts';
import type { TableCounts } from './queries/schema.ts';
import type { BlockStatus, WriteResult } from './queries/shared.ts';
import type { OwnedOutput, SpendRecord, StoredTransaction } from './queries/transactions.ts';
import type { StoredVote } from './queries/votes.ts';

export type {
  BacklogEntry,
  BlockRecord,
  BlockStatus,
  IndexRecords,
  OwnedOutput,
  RejectedTransaction,
  SpendRecord,
  StoredBlock,
  StoredTransaction,
  StoredVote,
  TableCounts,
  VoteRecord,
  WriteResult,
};
export type { OutputIndexRecord, SpendIndexRecord, TransactionRecord } from './queries/audit.ts';
// Until their users import them from the query modules.

const UNDEFINED_TABLE = '42P01';
const ANALYZE_MIN_ROWS = 10_000;
const ANALYZE_GROWTH = 0.2;

/**
 * The node's storage: the seed's `bigchain`, `backlog` and `votes` tables and their indexes, as PostgreSQL
 * queries (in ./queries/) that run unchanged on either driver. Every method is one round trip, or one
 * transaction, per call whatever the number of rows, so callers pass batches. This class holds what is
 * state or policy: the transaction a Storage is bound to, error translation and when to analyze.
 */
export class Storage {
  /** transactions rows at the last analyze(), and written since: see analyzeWhenGrown */
  private analyzedRows = 0;
  private rowsSinceAnalyze = 0;
  /** the transaction this Storage runs in, for one handed out by transaction() or snapshot() */
  private session: SqlSession | undefined;
  /** run() as a session, for the query functions that take one */
  private readonly sql: SqlSession = { query: (text, params) => this.run(text, params) };

  constructor(
    private readonly driver: SqlDriver,
    /** the database's name, for messages */
    readonly name: string,
  ) {}

  /**
   * Runs `work` in one transaction, with a Storage whose every query runs in it; a throw rolls it all
   * back. Inside another transaction, `work` joins it.
   */
  async transaction<T>(work: (storage: Storage) => Promise<T>): Promise<T> {
    if (this.session !== undefined) return work(this);
    return this.atomically((session) => work(this.boundTo(session)));
  }

  /**
   * Runs `work` with a Storage reading one REPEATABLE READ, READ ONLY snapshot: everything it reads is as
   * of one instant, however long it takes and whatever is written meanwhile.
   */
  async snapshot<T>(work: (storage: Storage) => Promise<T>): Promise<T> {
    if (this.session !== undefined) {
      throw new StorageError('a snapshot cannot start inside a transaction already under way');
    }
    return this.atomically(async (session) => {
      await session.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return work(this.boundTo(session));
    });
  }

  private boundTo(session: SqlSession): Storage {
    const bound = new Storage(this.driver, this.name);
    bound.session = session;
    return bound;
  }

  async close(): Promise<void> {
    await this.driver.close();
  }

  // --- schema: queries/schema.ts ------------------------------------------------------------------------

  async isInitialized(): Promise<boolean> {
    return schema.isInitialized(this.sql);
  }

  /** Creates the schema and writes the genesis block, atomically; a second init fails. */
  async init(genesis: Block): Promise<void> {
    await this.atomically(async (session) => {
      if (!(await schema.init(session, genesis))) throw this.alreadyExists();
    });
  }

  /**
   * Brings a database made by an earlier version of this software to the current schema, in one
   * transaction; returns the version it upgraded from, or undefined when there was nothing to do.
   */
  async upgrade(): Promise<{ from: string } | undefined> {
    if (!(await this.isInitialized())) return undefined;
    if ((await this.meta('schema_version')) === SCHEMA_VERSION) return undefined;
    return this.atomically((session) => schema.upgrade(session, this.name));
  }

  /** Removes every table, index and function init created. */
  async drop(): Promise<void> {
    if (!(await this.isInitialized())) throw this.doesNotExist();
    await this.atomically((session) => schema.drop(session));
  }

  async meta(key: string): Promise<string | undefined> {
    return schema.meta(this.sql, key);
  }

  async genesisBlockId(): Promise<string> {
    const id = await this.meta('genesis_block');
    if (id === undefined) throw this.doesNotExist();
    return id;
  }

  async counts(): Promise<TableCounts> {
    return schema.counts(this.sql);
  }

  /** Transactions waiting in the backlog, for every node. */
  async backlogSize(): Promise<number> {
    return schema.backlogSize(this.sql);
  }

  /** Resolves once the database answers a query; rejects with why not, or after `timeoutMs`. */
  async ping(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const answered = schema.ping(this.sql);
    // The query goes on after a timeout; its own failure then has nobody to tell.
    answered.catch(() => {});
    try {
      await Promise.race([
        answered,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StorageError(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Refreshes the planner's statistics. Autovacuum gets there too, but only on its next round (up to a
   * minute); meanwhile, on a chain that has just grown, batched lookups were planned as scans of the whole
   * chain (bench:storage: 46 ms per 100 ids at 100k transactions).
   */
  async analyze(): Promise<void> {
    this.analyzedRows = await schema.analyze(this.sql);
    this.rowsSinceAnalyze = 0;
  }

  /**
   * analyze() once the chain has grown by a fifth (and by at least 10,000 transactions) since the last time:
   * each run samples every table, which cost a quarter of the block-write rate when done every 10 %.
   */
  private async analyzeWhenGrown(rows: number): Promise<void> {
    // VACUUM cannot run inside a transaction: blocks written in one are left out of the count.
    if (this.session !== undefined) return;
    this.rowsSinceAnalyze += rows;
    if (this.rowsSinceAnalyze >= Math.max(ANALYZE_MIN_ROWS, ANALYZE_GROWTH * this.analyzedRows))
      await this.analyze();
  }

  // --- backlog: queries/backlog.ts ----------------------------------------------------------------------

  async writeBacklog(entries: readonly NewBacklogEntry[]): Promise<WriteResult> {
    return backlog.writeBacklog(this.sql, entries);
  }

  async getBacklog(ids: readonly string[]): Promise<Map<string, BacklogEntry>> {
    return backlog.getBacklog(this.sql, ids);
  }

  async backlogFor(assignee: string, limit = 1000): Promise<BacklogEntry[]> {
    return backlog.backlogFor(this.sql, assignee, limit);
  }

  async deleteIncludedFromBacklog(ids: readonly string[]): Promise<string[]> {
    return backlog.deleteIncludedFromBacklog(this.sql, ids);
  }

  async reassignStale(
    maxAgeMs: number,
    nodes: readonly string[],
  ): Promise<{ txId: string; assignee: string }[]> {
    return backlog.reassignStale(this.sql, maxAgeMs, nodes);
  }

  /** Moves invalid transactions out of the backlog, keeping each one's reason queryable, atomically. */
  async rejectTransactions(
    rejections: readonly { transaction: Transaction; reason: string }[],
  ): Promise<void> {
    if (rejections.length === 0) return;
    await this.atomically((session) => backlog.rejectTransactions(session, rejections));
  }

  async getRejected(ids: readonly string[]): Promise<Map<string, RejectedTransaction>> {
    return backlog.getRejected(this.sql, ids);
  }

  // --- blocks: queries/blocks.ts ------------------------------------------------------------------------

  /**
   * Stores a block with its index rows and removes its transactions from the backlog, in one transaction:
   * a crash leaves either all of it or none. Refuses (BlockConflictError, nothing written) a block that
   * would give a transaction a second live block or an output a second live spender: this is where the
   * no-double-spend invariant is enforced, whatever races between writers.
   */
  async writeBlock(block: Block, transactionTexts?: readonly string[]): Promise<void> {
    await this.atomically((session) => blocks.insertBlock(session, block, transactionTexts));
    await this.analyzeWhenGrown(block.block.transactions.length);
  }

  async getBlocks(ids: readonly string[]): Promise<Map<string, StoredBlock>> {
    return blocks.getBlocks(this.sql, ids);
  }

  async getBlock(id: string): Promise<StoredBlock | undefined> {
    return (await this.getBlocks([id])).get(id);
  }

  async blockStatuses(ids: readonly string[]): Promise<Map<string, BlockStatus>> {
    return blocks.blockStatuses(this.sql, ids);
  }

  /** A stored block's transaction count and its timestamp (integer seconds, as text). */
  async blockSizeAndTime(id: string): Promise<{ transactions: number; timestamp: string }> {
    return blocks.blockSizeAndTime(this.sql, id);
  }

  async markBlockValid(id: string): Promise<boolean> {
    return blocks.markBlockValid(this.sql, id);
  }

  /** Records an election that decided invalid and requeues its transactions, in one transaction. */
  async invalidateBlock(
    id: string,
    assignees: readonly string[],
    options: { requeue?: boolean } = {},
  ): Promise<{ decided: boolean; requeued: string[] }> {
    return this.atomically((session) => blocks.invalidateBlock(session, id, assignees, options));
  }

  /** The voters of those of the blocks still undecided (the election's input, with their votes). */
  undecidedBlockVoters(ids: readonly string[]): Promise<Map<string, string[]>> {
    return blocks.blockVoters(this.sql, ids, { undecidedOnly: true });
  }

  async unvotedBlocks(
    voter: string,
    options: { afterSeq?: string; limit?: number } = {},
  ): Promise<StoredBlock[]> {
    return blocks.unvotedBlocks(this.sql, voter, options);
  }

  async undecidedBlocks(
    options: { afterSeq?: string; limit?: number } = {},
  ): Promise<{ id: string; seq: string }[]> {
    return blocks.undecidedBlocks(this.sql, options);
  }

  // --- transactions, outputs, spends: queries/transactions.ts -------------------------------------------

  async getTransactions(ids: readonly string[]): Promise<StoredTransaction[]> {
    return transactions.getTransactions(this.sql, ids);
  }

  async blocksContainingTransaction(txId: string): Promise<{ blockId: string; status: BlockStatus }[]> {
    return transactions.blocksContainingTransaction(this.sql, txId);
  }

  async transactionsByUuid(uuid: string): Promise<StoredTransaction[]> {
    return transactions.transactionsByUuid(this.sql, uuid);
  }

  async getSpenders(inputs: readonly TransactionInput[]): Promise<SpendRecord[]> {
    return transactions.getSpenders(this.sql, inputs);
  }

  async outputsByOwner(owner: string, options: { unspent?: boolean } = {}): Promise<OwnedOutput[]> {
    return transactions.outputsByOwner(this.sql, owner, options);
  }

  // --- votes: queries/votes.ts --------------------------------------------------------------------------

  async writeVotes(votesToWrite: readonly Vote[]): Promise<WriteResult> {
    return votes.writeVotes(this.sql, votesToWrite);
  }

  async getVotes(blockIds: readonly string[]): Promise<Map<string, StoredVote[]>> {
    return votes.getVotes(this.sql, blockIds);
  }

  async getVote(blockId: string, voter: string): Promise<StoredVote | undefined> {
    return votes.getVote(this.sql, blockId, voter);
  }

  async lastVote(voter: string): Promise<StoredVote | undefined> {
    return votes.lastVote(this.sql, voter);
  }

  // --- changefeeds: queries/feeds.ts --------------------------------------------------------------------

  async feedHead(): Promise<FeedPosition> {
    return feeds.feedHead(this.sql);
  }

  /** Backlog inserts and reassignments, optionally only those for one assignee. */
  backlogFeed(
    options: ChangefeedOptions & { after?: FeedPosition; assignee?: string } = {},
  ): Changefeed<BacklogEntry> {
    return this.feed('backlog', options, (after, limit) =>
      feeds.backlogFeedRows(this.sql, after, limit, options.assignee),
    );
  }

  blockFeed(options: ChangefeedOptions & { after?: FeedPosition } = {}): Changefeed<StoredBlock> {
    return this.feed('blocks', options, (after, limit) => feeds.blockFeedRows(this.sql, after, limit));
  }

  voteFeed(options: ChangefeedOptions & { after?: FeedPosition } = {}): Changefeed<StoredVote> {
    return this.feed('votes', options, (after, limit) => feeds.voteFeedRows(this.sql, after, limit));
  }

  // --- operator tools (src/ops) -----------------------------------------------------------------------

  /** Runs `each` on every vote row in insertion order, `batchSize` at a time through a cursor. */
  async forEachVoteRecord(batchSize: number, each: (rows: VoteRecord[]) => Promise<void>): Promise<void> {
    await this.atomically((session) => operations.forEachVoteRecord(session, batchSize, each));
  }

  async setMeta(key: string, value: string): Promise<void> {
    await operations.setMeta(this.sql, key, value);
  }

  async deleteMeta(key: string): Promise<void> {
    await operations.deleteMeta(this.sql, key);
  }

  /** The voters of each of the stored blocks, decided or not. */
  blockVoters(ids: readonly string[]): Promise<Map<string, string[]>> {
    return blocks.blockVoters(this.sql, ids);
  }

  /** Which of the (block, voter) pairs already have a stored vote. */
  storedVoteKeys(
    keys: readonly { blockId: string; voter: string }[],
  ): Promise<{ blockId: string; voter: string }[]> {
    return operations.storedVoteKeys(this.sql, keys);
  }

  /** The last block, by insertion order, decided valid, or the genesis block when none is after it. */
  async lastValidBlock(): Promise<{ id: string; seq: string }> {
    const genesisId = await this.genesisBlockId();
    const last = await operations.lastValidBlock(this.sql, genesisId);
    if (last === undefined) throw new StorageError(`Database \`${this.name}\` has no genesis block`);
    return last;
  }

  /**
   * Deletes every block stored after `seq`, with its votes and index rows, in one transaction. Returns the
   * deleted blocks' ids in insertion order and the votes and transactions rows deleted.
   */
  deleteBlocksAfter(seq: string): Promise<{ blocks: string[]; votes: number; transactions: number }> {
    return this.atomically((session) => operations.deleteBlocksAfter(session, seq));
  }

  /** Deletes the whole backlog; returns how many entries it held. */
  clearBacklog(): Promise<number> {
    return operations.clearBacklog(this.sql);
  }

  /** REINDEX of every table; outside any transaction (a sharded table's REINDEX cannot run in one). */
  async reindex(): Promise<void> {
    if (this.session !== undefined) throw new StorageError('REINDEX cannot run inside a transaction');
    await operations.reindexTables(this.sql);
  }

  /** Empties the transactions, outputs and spends tables, to be derived anew with writeDerivedRows. */
  async clearDerivedRows(): Promise<void> {
    await operations.clearDerivedRows(this.sql);
  }

  /** Writes index rows derived from blocks already stored; returns the rows written per table. */
  writeDerivedRows(rows: DerivedRows): Promise<{ transactions: number; outputs: number; spends: number }> {
    return transactions.insertDerivedRows(this.sql, rows);
  }

  /** Lays the large tables out as `shards` hash partitions each, in one transaction; returns rows copied. */
  layOutTables(shards: number): Promise<number> {
    return this.atomically((session) => operations.layOutTables(session, shards));
  }

  /** Makes every commit wait for `standbys` synchronous standbys (0: none); needs a superuser. */
  async setSynchronousStandbys(standbys: number): Promise<void> {
    await operations.setSynchronousStandbys(this.sql, standbys);
  }

  replicationState(): Promise<operations.ReplicationState> {
    return operations.replicationState(this.sql);
  }

  private feed<T>(
    table: FeedTable,
    options: ChangefeedOptions & { after?: FeedPosition },
    fetch: (after: FeedPosition, limit: number) => Promise<FeedFetchRow<T>[]>,
  ): Changefeed<T> {
    return new Changefeed(this.driver, table, fetch, options.after ?? FEED_START, options);
  }

  // --- whole-chain reads, the audit: queries/audit.ts ---------------------------------------------------

  /**
   * Runs `each` on every block row in insertion order, `batchSize` at a time through a cursor, so memory
   * stays bounded however long the chain. Call it on a Storage from transaction() or snapshot(), and run
   * any other query of `each` on that same Storage.
   */
  async forEachBlockRecord(batchSize: number, each: (rows: BlockRecord[]) => Promise<void>): Promise<void> {
    await this.atomically((session) => audit.forEachBlockRecord(session, batchSize, each));
  }

  async voteRecords(blockIds: readonly string[]): Promise<VoteRecord[]> {
    return audit.voteRecords(this.sql, blockIds);
  }

  async indexRecords(blockIds: readonly string[]): Promise<IndexRecords> {
    return audit.indexRecords(this.sql, blockIds);
  }

  async validTransactionTexts(txIds: readonly string[]): Promise<{ tx_id: string; doc: string }[]> {
    return audit.validTransactionTexts(this.sql, txIds);
  }

  async orphanedVotes(): Promise<{ block_id: string; voter: string }[]> {
    return audit.orphanedVotes(this.sql);
  }

  async orphanedIndexRows(): Promise<{ tab: string; block_id: string; n: number; txid: string }[]> {
    return audit.orphanedIndexRows(this.sql);
  }

  async transactionsInSeveralValidBlocks(): Promise<{ tx_id: string; blocks: string; n: number }[]> {
    return audit.transactionsInSeveralValidBlocks(this.sql);
  }

  async outputsSpentInSeveralValidBlocks(): Promise<
    { input_txid: string; input_cid: number; spenders: string; last_block: string; last_spender: string }[]
  > {
    return audit.outputsSpentInSeveralValidBlocks(this.sql);
  }

  // --- internals ----------------------------------------------------------------------------------------

  private async run<Row = Record<string, unknown>>(
    text: string,
    params: readonly unknown[] = [],
  ): Promise<Row[]> {
    try {
      return await (this.session ?? this.driver).query<Row>(text, params);
    } catch (error) {
      throw this.translate(error);
    }
  }

  /** Runs `work` in a transaction of its own, or in the one this Storage is bound to. */
  private async atomically<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
    try {
      return await (this.session === undefined ? this.driver.transaction(work) : work(this.session));
    } catch (error) {
      throw this.translate(error);
    }
  }

  private translate(error: unknown): unknown {
    return errorCode(error) === UNDEFINED_TABLE ? this.doesNotExist() : error;
  }

  private alreadyExists(): DatabaseAlreadyExists {
    return DatabaseAlreadyExists.named(this.name);
  }

  private doesNotExist(): DatabaseDoesNotExist {
    return DatabaseDoesNotExist.named(this.name);
  }
}
