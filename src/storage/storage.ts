import type { Block } from '../protocol/block.ts';
import { errorCode } from '../protocol/errors.ts';
import { serialize } from '../protocol/json.ts';
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
import {
  BlockConflictError,
  DatabaseAlreadyExists,
  DatabaseDoesNotExist,
  StorageError,
  type BlockConflict,
} from './errors.ts';
import { blockText, DerivedRows } from './rows.ts';
import * as operations from './queries/operations.ts';
import { DROP_STATEMENTS, SCHEMA_VERSION, schemaStatements, type FeedTable } from './schema.ts';

export type BlockStatus = 'undecided' | 'valid' | 'invalid';

export interface StoredBlock {
  block: Block;
  /** the canonical JSON text exactly as stored, hashed and signed */
  text: string;
  status: BlockStatus;
  /** insertion order, as a decimal string */
  seq: string;
}

/** One copy of a transaction in one block (a transaction requeued from an invalid block has several). */
export interface StoredTransaction {
  transaction: Transaction;
  blockId: string;
  status: BlockStatus;
  /** false once its block was decided invalid */
  live: boolean;
}

export interface BacklogEntry {
  transaction: Transaction;
  assignee: string;
  assignedAt: Date;
}

export interface SpendRecord {
  input: TransactionInput;
  spender: string;
  blockId: string;
}

export interface OwnedOutput {
  txid: string;
  cid: number;
  blockId: string;
  status: BlockStatus;
}

export interface StoredVote {
  vote: Vote;
  text: string;
}

export interface RejectedTransaction {
  transaction: Transaction;
  reason: string;
  rejectedAt: Date;
}

export interface WriteResult {
  /** ids written */
  inserted: string[];
  /** ids refused because a row with that key was already there */
  duplicates: string[];
}

export interface TableCounts {
  blocks: number;
  transactions: number;
  votes: number;
  backlog: number;
}

/** A blocks row as stored, every column the audit checks against the document. */
export interface BlockRecord {
  id: string;
  status: BlockStatus;
  node_pubkey: string;
  block_timestamp: string;
  tx_count: number;
  doc: string;
  voters: string;
}

/** A votes row as stored. */
export interface VoteRecord {
  block_id: string;
  voter: string;
  previous_block: string;
  is_block_valid: boolean;
  vote_timestamp: string;
  doc: string;
}

/** A transactions row as stored. */
export interface TransactionRecord {
  tx_id: string;
  block_id: string;
  position: number;
  uuid: string | null;
  live: boolean;
  doc: string;
}

export interface OutputIndexRecord {
  tx_id: string;
  cid: number;
  owner: string;
  block_id: string;
  live: boolean;
}

export interface SpendIndexRecord {
  input_txid: string;
  input_cid: number;
  spender: string;
  block_id: string;
  live: boolean;
}

/** The index rows naming some blocks. */
export interface IndexRecords {
  transactions: TransactionRecord[];
  outputs: OutputIndexRecord[];
  spends: SpendIndexRecord[];
}

const UNDEFINED_TABLE = '42P01';
const ANALYZE_MIN_ROWS = 10_000;
const ANALYZE_GROWTH = 0.2;
/** the advisory lock key that serializes init across processes ("bcdb" in ASCII) */
const INIT_LOCK = 0x6263_6462;
/** blocks read per batch while upgrading */
const UPGRADE_BATCH = 200;

function partition<T>(all: readonly T[], kept: ReadonlySet<T>): WriteResult {
  const inserted: string[] = [];
  const duplicates: string[] = [];
  for (const id of all) (kept.has(id) ? inserted : duplicates).push(String(id));
  return { inserted, duplicates };
}

interface FeedColumns {
  feed_xid: string;
  feed_seq: string;
  settled: boolean;
}

function feedRow<T>(row: FeedColumns, value: T): FeedFetchRow<T> {
  return { position: { xid: row.feed_xid, seq: row.feed_seq }, settled: row.settled, value };
}

/**
 * The select list that turns a row of the table aliased `f` into a feed position; `xid < xmin` means its
 * writer has settled. Feed queries ORDER BY `f.xid, f.seq`, qualified: a bare name would sort by an output
 * column of the same name, which is text.
 */
const FEED_SELECT =
  'f.xid::text AS feed_xid, f.seq::text AS feed_seq, f.xid < pg_snapshot_xmin(pg_current_snapshot()) AS settled';

/**
 * The node's storage: the seed's `bigchain`, `backlog` and `votes` tables and their indexes, as PostgreSQL
 * queries that run unchanged on either driver. Every method is one round trip, or one transaction, per call
 * whatever the number of rows, so callers pass batches.
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
    readonly driver: SqlDriver,
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

  get backend(): SqlDriver['backend'] {
    return this.driver.backend;
  }

  async close(): Promise<void> {
    await this.driver.close();
  }

  // --- schema -------------------------------------------------------------------------------------------

  async isInitialized(): Promise<boolean> {
    const [row] = await this.run<{ exists: boolean }>(
      "SELECT to_regclass('bigchaindb_meta') IS NOT NULL AS exists",
    );
    return row?.exists === true;
  }

  /**
   * Creates the schema and writes the genesis block, atomically; a second init fails. Nodes of a federation
   * starting together all try: an advisory lock lets one at a time check and create, so exactly one wins.
   */
  async init(genesis: Block): Promise<void> {
    await this.atomically(async (session) => {
      await session.query('SELECT pg_advisory_xact_lock($1)', [INIT_LOCK]);
      // A scan of the catalog with this statement's snapshot: to_regclass could answer from a cache that
      // has not yet heard of the tables another node committed while we waited for the lock.
      const [row] = await session.query<{ exists: boolean }>(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'bigchaindb_meta') AS exists",
      );
      if (row?.exists === true) throw this.alreadyExists();
      for (const statement of schemaStatements()) await session.query(statement);
      await session.query(
        "INSERT INTO bigchaindb_meta (key, value) VALUES ('schema_version', $1), ('genesis_block', $2), ('shards', '1')",
        [SCHEMA_VERSION, genesis.id],
      );
      await this.insertBlock(session, genesis);
    });
  }

  /**
   * Brings a database made by an earlier version of this software to the current schema, in one
   * transaction under the init lock (so nodes of a federation starting together upgrade it once). Returns
   * the version it upgraded from, or undefined when there was nothing to do. A database from a newer
   * version is refused: this code would misread it.
   */
  async upgrade(): Promise<{ from: string } | undefined> {
    if (!(await this.isInitialized())) return undefined;
    if ((await this.meta('schema_version')) === SCHEMA_VERSION) return undefined;
    return this.atomically(async (session) => {
      await session.query('SELECT pg_advisory_xact_lock($1)', [INIT_LOCK]);
      const [row] = await session.query<{ value: string }>(
        "SELECT value FROM bigchaindb_meta WHERE key = 'schema_version'",
      );
      const from = row?.value ?? '?';
      if (from === SCHEMA_VERSION) return undefined;
      if (from !== '1') {
        throw new StorageError(
          `Database \`${this.name}\` has schema version ${from}, which this node (schema ${SCHEMA_VERSION}) cannot read: ` +
            'run the version of BigchainDB that wrote it',
          { database: this.name, schemaVersion: from },
        );
      }
      // 1 → 2: blocks.voters, filled from each block's document as parsed here, not in SQL.
      await session.query('ALTER TABLE blocks ADD COLUMN voters text');
      await forEachRow<{ id: string; doc: string }>(
        session,
        'SELECT id, doc FROM blocks ORDER BY seq',
        UPGRADE_BATCH,
        async (rows) => {
          await session.query(
            `UPDATE blocks b SET voters = u.voters FROM unnest($1::text[], $2::text[]) AS u(id, voters)
             WHERE b.id = u.id`,
            [
              rows.map((block) => block.id),
              rows.map((block) => serialize((JSON.parse(block.doc) as Block).block.voters)),
            ],
          );
        },
      );
      await session.query('ALTER TABLE blocks ALTER COLUMN voters SET NOT NULL');
      await session.query("UPDATE bigchaindb_meta SET value = $1 WHERE key = 'schema_version'", [
        SCHEMA_VERSION,
      ]);
      return { from };
    });
  }

  /** Removes every table, index and function init created. */
  async drop(): Promise<void> {
    if (!(await this.isInitialized())) throw this.doesNotExist();
    await this.atomically(async (session) => {
      for (const statement of DROP_STATEMENTS) await session.query(statement);
    });
  }

  async meta(key: string): Promise<string | undefined> {
    const [row] = await this.run<{ value: string }>('SELECT value FROM bigchaindb_meta WHERE key = $1', [
      key,
    ]);
    return row?.value;
  }

  async genesisBlockId(): Promise<string> {
    const id = await this.meta('genesis_block');
    if (id === undefined) throw this.doesNotExist();
    return id;
  }

  async counts(): Promise<TableCounts> {
    const [row] = await this.run<TableCounts>(
      `SELECT (SELECT count(*) FROM blocks)::int AS blocks, (SELECT count(*) FROM transactions)::int AS transactions,
              (SELECT count(*) FROM votes)::int AS votes, (SELECT count(*) FROM backlog)::int AS backlog`,
    );
    return row ?? { blocks: 0, transactions: 0, votes: 0, backlog: 0 };
  }

  // --- backlog ------------------------------------------------------------------------------------------

  /** Inserts transactions for their assignees; an id already in the backlog is reported, not overwritten. */
  async writeBacklog(
    entries: readonly { transaction: Transaction; assignee: string }[],
  ): Promise<WriteResult> {
    if (entries.length === 0) return { inserted: [], duplicates: [] };
    const ids = entries.map((entry) => entry.transaction.id);
    const rows = await this.run<{ tx_id: string }>(
      `INSERT INTO backlog (tx_id, assignee, tx_timestamp, doc)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT DO NOTHING RETURNING tx_id`,
      [
        ids,
        entries.map((entry) => entry.assignee),
        entries.map((entry) => entry.transaction.transaction.timestamp),
        entries.map((entry) => serialize(entry.transaction)),
      ],
    );
    return partition(ids, new Set(rows.map((row) => row.tx_id)));
  }

  async getBacklog(ids: readonly string[]): Promise<Map<string, BacklogEntry>> {
    const rows = await this.run<{ tx_id: string; assignee: string; assigned_at: Date; doc: string }>(
      'SELECT tx_id, assignee, assigned_at, doc FROM backlog WHERE tx_id = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((row) => [row.tx_id, backlogEntry(row)]));
  }

  /** The transactions assigned to a node, oldest transaction timestamp first (the seed's prefeed order). */
  async backlogFor(assignee: string, limit = 1000): Promise<BacklogEntry[]> {
    const rows = await this.run<{ assignee: string; assigned_at: Date; doc: string }>(
      `SELECT assignee, assigned_at, doc FROM backlog WHERE assignee = $1
       ORDER BY tx_timestamp, tx_id LIMIT $2`,
      [assignee, limit],
    );
    return rows.map(backlogEntry);
  }

  /**
   * Removes the backlog copies of transactions that a live block already holds (replays, or copies a
   * reassignment let two nodes see). Checked in the same statement, so a copy requeued because its block was
   * just decided invalid is never removed.
   */
  async deleteIncludedFromBacklog(ids: readonly string[]): Promise<string[]> {
    const rows = await this.run<{ tx_id: string }>(
      `DELETE FROM backlog b WHERE b.tx_id = ANY($1::text[])
         AND EXISTS (SELECT 1 FROM transactions t WHERE t.tx_id = b.tx_id AND t.live)
       RETURNING b.tx_id`,
      [ids],
    );
    return rows.map((row) => row.tx_id);
  }

  /**
   * Gives every backlog transaction assigned longer ago than maxAgeMs to another of `nodes` (at random).
   * One whose assignee is the only node stays where it is. A reassignment reappears in the backlog changefeed.
   */
  async reassignStale(
    maxAgeMs: number,
    nodes: readonly string[],
  ): Promise<{ txId: string; assignee: string }[]> {
    const rows = await this.run<{ tx_id: string; assignee: string }>(
      `UPDATE backlog b SET
         assignee = (SELECT node FROM unnest($2::text[]) AS node WHERE node <> b.assignee ORDER BY random() LIMIT 1),
         assigned_at = now(), seq = nextval('backlog_seq'), xid = pg_current_xact_id()
       WHERE assigned_at < now() - make_interval(secs => $1::float8 / 1000)
         AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS node WHERE node <> b.assignee)
       RETURNING tx_id, assignee`,
      [maxAgeMs, nodes],
    );
    return rows.map((row) => ({ txId: row.tx_id, assignee: row.assignee }));
  }

  /** Moves invalid transactions out of the backlog, keeping each one's reason queryable. */
  async rejectTransactions(
    rejections: readonly { transaction: Transaction; reason: string }[],
  ): Promise<void> {
    if (rejections.length === 0) return;
    const ids = rejections.map((rejection) => rejection.transaction.id);
    await this.atomically(async (session) => {
      await session.query(
        `INSERT INTO rejected (tx_id, reason, doc)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
         ON CONFLICT (tx_id) DO UPDATE SET reason = excluded.reason, doc = excluded.doc, rejected_at = now()`,
        [
          ids,
          rejections.map((rejection) => rejection.reason),
          // Kept for the record, not hashed: plain JSON, which also holds what serialize refuses.
          rejections.map((r) => JSON.stringify(r.transaction)),
        ],
      );
      await session.query('DELETE FROM backlog WHERE tx_id = ANY($1::text[])', [ids]);
    });
  }

  async getRejected(ids: readonly string[]): Promise<Map<string, RejectedTransaction>> {
    const rows = await this.run<{ tx_id: string; reason: string; rejected_at: Date; doc: string }>(
      'SELECT tx_id, reason, rejected_at, doc FROM rejected WHERE tx_id = ANY($1::text[])',
      [ids],
    );
    return new Map(
      rows.map((row) => [
        row.tx_id,
        {
          transaction: JSON.parse(row.doc) as Transaction,
          reason: row.reason,
          rejectedAt: new Date(row.rejected_at),
        },
      ]),
    );
  }

  // --- blocks -------------------------------------------------------------------------------------------

  /**
   * Stores a block with its index rows and removes its transactions from the backlog, in one transaction:
   * a crash leaves either all of it or none. Refuses (BlockConflictError, nothing written) a block that
   * would give a transaction a second live block or an output a second live spender: this is where the
   * no-double-spend invariant is enforced, whatever races between writers.
   */
  async writeBlock(block: Block): Promise<void> {
    await this.atomically((session) => this.insertBlock(session, block));
    await this.analyzeWhenGrown(block.block.transactions.length);
  }

  /**
   * Refreshes the planner's statistics; on the embedded backend also reclaims the backlog's deleted rows.
   * PGlite has no autovacuum: without statistics its planner turned batched lookups into scans of the whole
   * chain (bench:storage: 7 ms → 0.94 s per 100 ids at 1M transactions). A server's autovacuum gets there
   * too, but only on its next round (up to a minute), meanwhile the same plans cost 46 ms at 100k.
   */
  async analyze(): Promise<void> {
    await this.run('ANALYZE blocks, transactions, outputs, spends, votes');
    if (this.backend === 'embedded') await this.run('VACUUM (ANALYZE) backlog');
    const [row] = await this.run<{ rows: number }>(
      // The leaf tables: once sharded, the rows are in the partitions, not the parent.
      `SELECT coalesce(sum(greatest(reltuples, 0)), 0)::float8 AS rows FROM pg_class WHERE relkind = 'r'
       AND (relname = 'transactions' OR oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'transactions'::regclass))`,
    );
    this.analyzedRows = row?.rows ?? 0;
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

  async getBlocks(ids: readonly string[]): Promise<Map<string, StoredBlock>> {
    const rows = await this.run<BlockRow>(
      'SELECT id, status, seq::text AS seq_text, doc FROM blocks WHERE id = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((row) => [row.id, storedBlock(row)]));
  }

  async getBlock(id: string): Promise<StoredBlock | undefined> {
    return (await this.getBlocks([id])).get(id);
  }

  async blockStatuses(ids: readonly string[]): Promise<Map<string, BlockStatus>> {
    const rows = await this.run<{ id: string; status: BlockStatus }>(
      'SELECT id, status FROM blocks WHERE id = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((row) => [row.id, row.status]));
  }

  /** How many transactions a stored block holds (0 for no such block). */
  async blockTransactionCount(id: string): Promise<number> {
    const rows = await this.run<{ count: number }>(
      'SELECT count(*)::int AS count FROM transactions WHERE block_id = $1',
      [id],
    );
    return rows[0]?.count ?? 0;
  }

  /** Records an election that decided valid; false if the block was already decided. */
  async markBlockValid(id: string): Promise<boolean> {
    const rows = await this.run(
      "UPDATE blocks SET status = 'valid' WHERE id = $1 AND status = 'undecided' RETURNING id",
      [id],
    );
    return rows.length === 1;
  }

  /**
   * Records an election that decided invalid and, in the same transaction, returns its transactions to the
   * backlog (to a random one of `assignees`) unless another live block holds them. Only the first call for
   * a block does anything, so however many nodes run the election each transaction is requeued once.
   * With `requeue: false` (a restore, which clears the backlog anyway) nothing goes back to the backlog.
   */
  async invalidateBlock(
    id: string,
    assignees: readonly string[],
    options: { requeue?: boolean } = {},
  ): Promise<{ decided: boolean; requeued: string[] }> {
    return this.atomically(async (session) => {
      const decided = await session.query(
        "UPDATE blocks SET status = 'invalid' WHERE id = $1 AND status = 'undecided' RETURNING id",
        [id],
      );
      if (decided.length === 0) return { decided: false, requeued: [] };
      await session.query('UPDATE transactions SET live = false WHERE block_id = $1', [id]);
      await session.query('UPDATE spends SET live = false WHERE block_id = $1', [id]);
      await session.query('UPDATE outputs SET live = false WHERE block_id = $1', [id]);
      if (options.requeue === false) return { decided: true, requeued: [] };
      // The timestamps are read here, not by parsing the documents in SQL: see schema.ts.
      const orphans = await session.query<{ tx_id: string; doc: string }>(
        `SELECT t.tx_id, t.doc FROM transactions t
         WHERE t.block_id = $1 AND NOT EXISTS (SELECT 1 FROM transactions o WHERE o.tx_id = t.tx_id AND o.live)
         ORDER BY t.position`,
        [id],
      );
      if (orphans.length === 0) return { decided: true, requeued: [] };
      const requeued = await session.query<{ tx_id: string }>(
        `INSERT INTO backlog (tx_id, assignee, tx_timestamp, doc)
         SELECT t.tx_id, ($2::text[])[1 + floor(random() * array_length($2::text[], 1))::int], t.ts, t.doc
         FROM unnest($1::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(tx_id, ts, doc, position)
         ORDER BY t.position
         ON CONFLICT DO NOTHING RETURNING tx_id`,
        [
          orphans.map((row) => row.tx_id),
          assignees,
          orphans.map((row) => (JSON.parse(row.doc) as Transaction).transaction.timestamp),
          orphans.map((row) => row.doc),
        ],
      );
      return { decided: true, requeued: requeued.map((row) => row.tx_id) };
    });
  }

  /** The voters of those of the blocks still undecided (the election's input, with their votes). */
  undecidedBlockVoters(ids: readonly string[]): Promise<Map<string, string[]>> {
    return blockVoters(this.sql, ids, { undecidedOnly: true });
  }

  /** Blocks without a vote from `voter`, in insertion order (the vote pipeline's catch-up). */
  async unvotedBlocks(
    voter: string,
    options: { afterSeq?: string; limit?: number } = {},
  ): Promise<StoredBlock[]> {
    const rows = await this.run<BlockRow>(
      `SELECT b.id, b.status, b.seq::text AS seq_text, b.doc FROM blocks b
       WHERE b.seq > $2::bigint AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.block_id = b.id AND v.voter = $1)
       ORDER BY b.seq LIMIT $3`,
      [voter, options.afterSeq ?? '0', options.limit ?? 100],
    );
    return rows.map(storedBlock);
  }

  /** Undecided blocks, in insertion order, with only their id and seq (the election's catch-up). */
  async undecidedBlocks(
    options: { afterSeq?: string; limit?: number } = {},
  ): Promise<{ id: string; seq: string }[]> {
    const rows = await this.run<{ id: string; seq_text: string }>(
      `SELECT b.id, b.seq::text AS seq_text FROM blocks b WHERE b.status = 'undecided' AND b.seq > $1::bigint
       ORDER BY b.seq LIMIT $2`,
      [options.afterSeq ?? '0', options.limit ?? 1000],
    );
    return rows.map((row) => ({ id: row.id, seq: row.seq_text }));
  }

  // --- transactions, outputs, spends --------------------------------------------------------------------

  /** Every stored copy of each transaction, with its block's status. */
  async getTransactions(ids: readonly string[]): Promise<StoredTransaction[]> {
    const rows = await this.run<TransactionRow>(
      `SELECT t.block_id, t.live, b.status, t.doc FROM transactions t JOIN blocks b ON b.id = t.block_id
       WHERE t.tx_id = ANY($1::text[]) ORDER BY b.seq`,
      [ids],
    );
    return rows.map(storedTransaction);
  }

  /** The blocks holding a transaction and their statuses (0.6 get_blocks_status_containing_tx). */
  async blocksContainingTransaction(txId: string): Promise<{ blockId: string; status: BlockStatus }[]> {
    const rows = await this.run<{ block_id: string; status: BlockStatus }>(
      `SELECT t.block_id, b.status FROM transactions t JOIN blocks b ON b.id = t.block_id
       WHERE t.tx_id = $1 ORDER BY b.seq`,
      [txId],
    );
    return rows.map((row) => ({ blockId: row.block_id, status: row.status }));
  }

  /** Transactions whose `data.uuid` is `uuid`, from any block (0.6 get_tx_by_payload_uuid). */
  async transactionsByUuid(uuid: string): Promise<StoredTransaction[]> {
    const rows = await this.run<TransactionRow>(
      `SELECT t.block_id, t.live, b.status, t.doc FROM transactions t JOIN blocks b ON b.id = t.block_id
       WHERE t.uuid = $1 ORDER BY b.seq, t.position`,
      [uuid],
    );
    return rows.map(storedTransaction);
  }

  /** The live spender (in a block not decided invalid) of each input that has one. */
  async getSpenders(inputs: readonly TransactionInput[]): Promise<SpendRecord[]> {
    if (inputs.length === 0) return [];
    return liveSpenders(
      this.sql,
      inputs.map((input) => input.txid),
      inputs.map((input) => input.cid),
    );
  }

  /**
   * Outputs that `owner` holds (alone or as any participant of a threshold) in live blocks; with
   * `unspent`, only those no live transaction spends (0.6 get_owned_ids).
   */
  async outputsByOwner(owner: string, options: { unspent?: boolean } = {}): Promise<OwnedOutput[]> {
    const unspent = options.unspent
      ? 'AND NOT EXISTS (SELECT 1 FROM spends s WHERE s.input_txid = o.tx_id AND s.input_cid = o.cid AND s.live)'
      : '';
    const rows = await this.run<{ tx_id: string; cid: number; block_id: string; status: BlockStatus }>(
      `SELECT o.tx_id, o.cid, o.block_id, b.status FROM outputs o JOIN blocks b ON b.id = o.block_id
       WHERE o.owner = $1 AND o.live ${unspent} ORDER BY b.seq, o.tx_id, o.cid`,
      [owner],
    );
    return rows.map((row) => ({ txid: row.tx_id, cid: row.cid, blockId: row.block_id, status: row.status }));
  }

  // --- votes --------------------------------------------------------------------------------------------

  /** Inserts votes; a second vote by the same node on the same block is refused and reported by block id. */
  async writeVotes(votes: readonly Vote[]): Promise<WriteResult> {
    if (votes.length === 0) return { inserted: [], duplicates: [] };
    const rows = await this.run<{ block_id: string; voter: string }>(
      `INSERT INTO votes (block_id, voter, previous_block, is_block_valid, vote_timestamp, doc)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[])
       ON CONFLICT DO NOTHING RETURNING block_id, voter`,
      [
        votes.map((vote) => vote.vote.voting_for_block),
        votes.map((vote) => vote.node_pubkey),
        votes.map((vote) => vote.vote.previous_block),
        votes.map((vote) => vote.vote.is_block_valid),
        votes.map((vote) => vote.vote.timestamp),
        votes.map((vote) => serialize(vote)),
      ],
    );
    const written = new Set(rows.map((row) => `${row.block_id} ${row.voter}`));
    const keys = votes.map((vote) => `${vote.vote.voting_for_block} ${vote.node_pubkey}`);
    const result = partition(keys, written);
    const blockOf = (key: string) => key.slice(0, key.indexOf(' '));
    return { inserted: result.inserted.map(blockOf), duplicates: result.duplicates.map(blockOf) };
  }

  /** The votes cast on each block, in the order they were stored. */
  async getVotes(blockIds: readonly string[]): Promise<Map<string, StoredVote[]>> {
    const rows = await this.run<{ block_id: string; doc: string }>(
      'SELECT block_id, doc FROM votes WHERE block_id = ANY($1::text[]) ORDER BY seq',
      [blockIds],
    );
    const byBlock = new Map<string, StoredVote[]>(blockIds.map((id) => [id, []]));
    for (const row of rows) byBlock.get(row.block_id)?.push(storedVote(row.doc));
    return byBlock;
  }

  async getVote(blockId: string, voter: string): Promise<StoredVote | undefined> {
    const [row] = await this.run<{ doc: string }>(
      'SELECT doc FROM votes WHERE block_id = $1 AND voter = $2',
      [blockId, voter],
    );
    return row === undefined ? undefined : storedVote(row.doc);
  }

  /** The vote `voter` stored last: the head of its chain of previous_block links. */
  async lastVote(voter: string): Promise<StoredVote | undefined> {
    const [row] = await this.run<{ doc: string }>(
      'SELECT doc FROM votes WHERE voter = $1 ORDER BY seq DESC LIMIT 1',
      [voter],
    );
    return row === undefined ? undefined : storedVote(row.doc);
  }

  // --- changefeeds --------------------------------------------------------------------------------------

  /** The position before everything not yet committed: a feed from here sees only what comes next. */
  async feedHead(): Promise<FeedPosition> {
    const [row] = await this.run<{ head_xid: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS head_xid',
    );
    return { xid: row?.head_xid ?? '0', seq: '0' };
  }

  /** Backlog inserts and reassignments, optionally only those for one assignee. */
  backlogFeed(
    options: ChangefeedOptions & { after?: FeedPosition; assignee?: string } = {},
  ): Changefeed<BacklogEntry> {
    const byAssignee = options.assignee === undefined ? '' : 'AND f.assignee = $4';
    const assignee = options.assignee === undefined ? [] : [options.assignee];
    return this.feed('backlog', options, async (after, limit) => {
      const rows = await this.run<FeedColumns & { assignee: string; assigned_at: Date; doc: string }>(
        `SELECT ${FEED_SELECT}, f.assignee, f.assigned_at, f.doc FROM backlog f
         WHERE (f.xid, f.seq) > ($1::xid8, $2::bigint) ${byAssignee} ORDER BY f.xid, f.seq LIMIT $3`,
        [after.xid, after.seq, limit, ...assignee],
      );
      return rows.map((row) => feedRow(row, backlogEntry(row)));
    });
  }

  blockFeed(options: ChangefeedOptions & { after?: FeedPosition } = {}): Changefeed<StoredBlock> {
    return this.feed('blocks', options, async (after, limit) => {
      const rows = await this.run<FeedColumns & BlockRow>(
        `SELECT ${FEED_SELECT}, f.id, f.status, f.seq::text AS seq_text, f.doc FROM blocks f
         WHERE (f.xid, f.seq) > ($1::xid8, $2::bigint) ORDER BY f.xid, f.seq LIMIT $3`,
        [after.xid, after.seq, limit],
      );
      return rows.map((row) => feedRow(row, storedBlock(row)));
    });
  }

  voteFeed(options: ChangefeedOptions & { after?: FeedPosition } = {}): Changefeed<StoredVote> {
    return this.feed('votes', options, async (after, limit) => {
      const rows = await this.run<FeedColumns & { doc: string }>(
        `SELECT ${FEED_SELECT}, f.doc FROM votes f
         WHERE (f.xid, f.seq) > ($1::xid8, $2::bigint) ORDER BY f.xid, f.seq LIMIT $3`,
        [after.xid, after.seq, limit],
      );
      return rows.map((row) => feedRow(row, storedVote(row.doc)));
    });
  }

  // --- whole-chain reads: the audit ----------------------------------------------------------------------

  /**
   * Runs `each` on every block row in insertion order, `batchSize` at a time through a cursor, so memory
   * stays bounded however long the chain. Call it on a Storage from transaction() or snapshot(), and run
   * any other query of `each` on that same Storage.
   */
  async forEachBlockRecord(batchSize: number, each: (rows: BlockRecord[]) => Promise<void>): Promise<void> {
    await this.atomically((session) =>
      forEachRow<BlockRecord>(
        session,
        'SELECT b.id, b.status, b.node_pubkey, b.block_timestamp, b.tx_count, b.doc, b.voters FROM blocks b ORDER BY b.seq',
        batchSize,
        each,
      ),
    );
  }

  /** The vote rows on the blocks, in insertion order. */
  async voteRecords(blockIds: readonly string[]): Promise<VoteRecord[]> {
    return this.run<VoteRecord>(
      `SELECT block_id, voter, previous_block, is_block_valid, vote_timestamp, doc FROM votes
       WHERE block_id = ANY($1::text[]) ORDER BY seq`,
      [blockIds],
    );
  }

  /** The transactions, outputs and spends rows naming the blocks. */
  async indexRecords(blockIds: readonly string[]): Promise<IndexRecords> {
    return {
      transactions: await this.run<TransactionRecord>(
        'SELECT tx_id, block_id, position, uuid, live, doc FROM transactions WHERE block_id = ANY($1::text[])',
        [blockIds],
      ),
      outputs: await this.run<OutputIndexRecord>(
        'SELECT tx_id, cid, owner, block_id, live FROM outputs WHERE block_id = ANY($1::text[])',
        [blockIds],
      ),
      spends: await this.run<SpendIndexRecord>(
        'SELECT input_txid, input_cid, spender, block_id, live FROM spends WHERE block_id = ANY($1::text[])',
        [blockIds],
      ),
    };
  }

  /** The stored text of every copy of the transactions in blocks decided valid. */
  async validTransactionTexts(txIds: readonly string[]): Promise<{ tx_id: string; doc: string }[]> {
    return this.run<{ tx_id: string; doc: string }>(
      `SELECT t.tx_id, t.doc FROM transactions t JOIN blocks b ON b.id = t.block_id
       WHERE t.tx_id = ANY($1::text[]) AND b.status = 'valid'`,
      [txIds],
    );
  }

  /** Votes on a block that is not stored, in insertion order. */
  async orphanedVotes(): Promise<{ block_id: string; voter: string }[]> {
    return this.run<{ block_id: string; voter: string }>(
      `SELECT v.block_id, v.voter FROM votes v WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = v.block_id)
       ORDER BY v.seq`,
    );
  }

  /** Per index table and block not stored, the rows naming it: their count and the least transaction id. */
  async orphanedIndexRows(): Promise<{ tab: string; block_id: string; n: number; txid: string }[]> {
    return this.run<{ tab: string; block_id: string; n: number; txid: string }>(
      `SELECT 'transactions' AS tab, block_id, count(*)::int AS n, min(tx_id) AS txid FROM transactions t
         WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = t.block_id) GROUP BY block_id
       UNION ALL
       SELECT 'outputs', block_id, count(*)::int, min(tx_id) FROM outputs o
         WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = o.block_id) GROUP BY block_id
       UNION ALL
       SELECT 'spends', block_id, count(*)::int, min(spender) FROM spends s
         WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = s.block_id) GROUP BY block_id`,
    );
  }

  /** Transactions held by more than one valid block, with those blocks (space-separated, in order). */
  async transactionsInSeveralValidBlocks(): Promise<{ tx_id: string; blocks: string; n: number }[]> {
    return this.run<{ tx_id: string; blocks: string; n: number }>(
      `SELECT t.tx_id, string_agg(t.block_id, ' ' ORDER BY b.seq) AS blocks, count(*)::int AS n
       FROM transactions t JOIN blocks b ON b.id = t.block_id WHERE b.status = 'valid'
       GROUP BY t.tx_id HAVING count(*) > 1 ORDER BY min(b.seq)`,
    );
  }

  /** Outputs spent by more than one transaction of valid blocks, with the spenders and the last of them. */
  async outputsSpentInSeveralValidBlocks(): Promise<
    { input_txid: string; input_cid: number; spenders: string; last_block: string; last_spender: string }[]
  > {
    return this.run(
      `SELECT s.input_txid, s.input_cid,
              string_agg(s.spender || ' in block ' || s.block_id, ', ' ORDER BY b.seq) AS spenders,
              (array_agg(s.block_id ORDER BY b.seq DESC))[1] AS last_block,
              (array_agg(s.spender ORDER BY b.seq DESC))[1] AS last_spender
       FROM spends s JOIN blocks b ON b.id = s.block_id WHERE b.status = 'valid'
       GROUP BY s.input_txid, s.input_cid HAVING count(DISTINCT s.spender) > 1 ORDER BY min(b.seq)`,
    );
  }

  // --- internals ----------------------------------------------------------------------------------------

  // --- operator tools (src/ops) -----------------------------------------------------------------------

  /** Runs `each` on every vote row in insertion order, `batchSize` at a time through a cursor. */
  async forEachVoteRecord(batchSize: number, each: (rows: VoteRecord[]) => Promise<void>): Promise<void> {
    await this.atomically((session) =>
      forEachRow<VoteRecord>(
        session,
        'SELECT v.block_id, v.voter, v.previous_block, v.is_block_valid, v.vote_timestamp, v.doc FROM votes v ORDER BY v.seq',
        batchSize,
        each,
      ),
    );
  }

  async setMeta(key: string, value: string): Promise<void> {
    await operations.setMeta(this.sql, key, value);
  }

  async deleteMeta(key: string): Promise<void> {
    await operations.deleteMeta(this.sql, key);
  }

  /** The voters of each of the stored blocks, decided or not. */
  blockVoters(ids: readonly string[]): Promise<Map<string, string[]>> {
    return blockVoters(this.sql, ids);
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
    return insertDerivedRows(this.sql, rows);
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

  private async insertBlock(session: SqlSession, block: Block): Promise<void> {
    const rows = new DerivedRows().add(block);
    const stored = await session.query(
      `INSERT INTO blocks (id, node_pubkey, block_timestamp, tx_count, doc, voters)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id`,
      [
        block.id,
        block.block.node_pubkey,
        block.block.timestamp,
        block.block.transactions.length,
        blockText(block, rows.transactions.docs),
        serialize(block.block.voters),
      ],
    );
    if (stored.length === 0) throw new BlockConflictError(block.id, [{ kind: 'block' }]);
    const written = await insertDerivedRows(session, rows);
    if (
      written.transactions !== rows.transactions.txIds.length ||
      written.spends !== rows.spends.spenders.length
    ) {
      throw new BlockConflictError(block.id, await this.findConflicts(session, block, rows));
    }
    await session.query('DELETE FROM backlog WHERE tx_id = ANY($1::text[])', [rows.transactions.txIds]);
  }

  /** Which transactions of a refused block clash with live rows (of other blocks, or of itself). */
  private async findConflicts(
    session: SqlSession,
    block: Block,
    rows: DerivedRows,
  ): Promise<BlockConflict[]> {
    const txIds = rows.transactions.txIds;
    const holders = await session.query<{ tx_id: string; block_id: string }>(
      'SELECT tx_id, block_id FROM transactions WHERE live AND tx_id = ANY($1::text[]) AND block_id <> $2',
      [txIds, block.id],
    );
    const spenders = await liveSpenders(session, rows.spends.inputTxids, rows.spends.inputCids);
    const conflicts: BlockConflict[] = holders.map((row) => ({
      kind: 'included',
      txId: row.tx_id,
      existingBlock: row.block_id,
    }));
    rows.spends.spenders.forEach((txId, i) => {
      const input = `${rows.spends.inputTxids[i]}:${rows.spends.inputCids[i]}`;
      const holder = spenders.find(
        (spend) => `${spend.input.txid}:${spend.input.cid}` === input && spend.spender !== txId,
      );
      if (holder !== undefined) {
        conflicts.push({
          kind: 'spent',
          txId,
          input,
          existingSpender: holder.spender,
          existingBlock: holder.blockId,
        });
      }
    });
    // Duplicates inside the block itself: the same transaction twice, or two spending one output.
    const seen = new Set<string>();
    for (const txId of txIds) {
      if (seen.has(txId)) conflicts.push({ kind: 'included', txId, existingBlock: block.id });
      seen.add(txId);
    }
    return conflicts;
  }

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

/**
 * Runs `each` on the rows of `query` in batches of `batchSize`, through a cursor of `session`'s
 * transaction, so memory stays bounded however many rows there are.
 */
export async function forEachRow<Row>(
  session: SqlSession,
  query: string,
  batchSize: number,
  each: (rows: Row[]) => Promise<void>,
): Promise<void> {
  await session.query(`DECLARE bigchaindb_rows NO SCROLL CURSOR FOR ${query}`);
  for (;;) {
    const rows = await session.query<Row>(`FETCH FORWARD ${batchSize} FROM bigchaindb_rows`);
    if (rows.length === 0) break;
    await each(rows);
  }
  await session.query('CLOSE bigchaindb_rows');
}

/** The live spender of each of the inputs (given as parallel columns) that has one. */
async function liveSpenders(
  session: SqlSession,
  txids: readonly string[],
  cids: readonly number[],
): Promise<SpendRecord[]> {
  const rows = await session.query<{
    input_txid: string;
    input_cid: number;
    spender: string;
    block_id: string;
  }>(
    `SELECT s.input_txid, s.input_cid, s.spender, s.block_id
     FROM unnest($1::text[], $2::int[]) AS i(txid, cid)
     JOIN spends s ON s.input_txid = i.txid AND s.input_cid = i.cid AND s.live`,
    [txids, cids],
  );
  return rows.map((row) => ({
    input: { txid: row.input_txid, cid: row.input_cid },
    spender: row.spender,
    blockId: row.block_id,
  }));
}

interface BlockRow {
  id: string;
  status: BlockStatus;
  /** blocks.seq as text: a bigint may not fit a JS number; never named seq, which would shadow the column */
  seq_text: string;
  doc: string;
}

interface TransactionRow {
  block_id: string;
  live: boolean;
  status: BlockStatus;
  doc: string;
}

function storedBlock(row: BlockRow): StoredBlock {
  return { block: JSON.parse(row.doc) as Block, text: row.doc, status: row.status, seq: row.seq_text };
}

function storedTransaction(row: TransactionRow): StoredTransaction {
  return {
    transaction: JSON.parse(row.doc) as Transaction,
    blockId: row.block_id,
    status: row.status,
    live: row.live,
  };
}

function storedVote(doc: string): StoredVote {
  return { vote: JSON.parse(doc) as Vote, text: doc };
}

function backlogEntry(row: { assignee: string; assigned_at: Date; doc: string }): BacklogEntry {
  return {
    transaction: JSON.parse(row.doc) as Transaction,
    assignee: row.assignee,
    assignedAt: new Date(row.assigned_at),
  };
}

/**
 * The voters of each stored block, from their column: an election needs only them, not the block's
 * megabyte of transactions. With `undecidedOnly`, blocks already decided are left out.
 */
export async function blockVoters(
  session: SqlSession,
  ids: readonly string[],
  options: { undecidedOnly?: boolean } = {},
): Promise<Map<string, string[]>> {
  const rows = await session.query<{ id: string; voters: string }>(
    `SELECT id, voters FROM blocks
     WHERE id = ANY($1::text[]) ${options.undecidedOnly ? "AND status = 'undecided'" : ''}`,
    [ids],
  );
  return new Map(rows.map((row) => [row.id, JSON.parse(row.voters) as string[]]));
}

/**
 * Inserts derived index rows; rows clashing with a unique index (a second live copy of a transaction or
 * spend) are skipped, and the counts written tell the caller whether any were.
 */
export async function insertDerivedRows(
  session: SqlSession,
  rows: DerivedRows,
): Promise<{ transactions: number; outputs: number; spends: number }> {
  const t = rows.transactions;
  const transactions = await session.query(
    `INSERT INTO transactions (tx_id, block_id, position, uuid, live, doc)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::boolean[], $6::text[])
     ON CONFLICT DO NOTHING RETURNING 1`,
    [t.txIds, t.blockIds, t.positions, t.uuids, t.live, t.docs],
  );
  const s = rows.spends;
  const spends = await session.query(
    `INSERT INTO spends (input_txid, input_cid, spender, block_id, live)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::boolean[])
     ON CONFLICT DO NOTHING RETURNING 1`,
    [s.inputTxids, s.inputCids, s.spenders, s.blockIds, s.live],
  );
  const o = rows.outputs;
  const outputs = await session.query(
    `INSERT INTO outputs (tx_id, cid, owner, block_id, live)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::boolean[])
     ON CONFLICT DO NOTHING RETURNING 1`,
    [o.txIds, o.cids, o.owners, o.blockIds, o.live],
  );
  return { transactions: transactions.length, outputs: outputs.length, spends: spends.length };
}
