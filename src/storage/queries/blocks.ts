import { serializeWithTransactions, type Block } from '../../protocol/block.ts';
import { serialize } from '../../protocol/json.ts';
import type { Transaction } from '../../protocol/transaction.ts';
import type { SqlSession } from '../driver.ts';
import { BlockConflictError, type BlockConflict } from '../errors.ts';
import { DerivedRows } from '../rows.ts';
import type { BlockStatus } from './shared.ts';
import { insertDerivedRows, liveSpenders } from './transactions.ts';

export interface StoredBlock {
  id: string;
  /** the block, parsed from `text` when first asked for (a reader that only needs the id never parses it) */
  readonly block: Block;
  /** the canonical JSON text exactly as stored, hashed and signed */
  text: string;
  status: BlockStatus;
  /** insertion order, as a decimal string */
  seq: string;
}

export interface BlockRow {
  id: string;
  status: BlockStatus;
  /** blocks.seq as text: a bigint may not fit a JS number; never named seq, which would shadow the column */
  seq_text: string;
  doc: string;
}

class StoredBlockRow implements StoredBlock {
  #block: Block | undefined;

  constructor(
    readonly id: string,
    readonly text: string,
    readonly status: BlockStatus,
    readonly seq: string,
  ) {}

  get block(): Block {
    this.#block ??= JSON.parse(this.text) as Block;
    return this.#block;
  }
}

export function storedBlock(row: BlockRow): StoredBlock {
  return new StoredBlockRow(row.id, row.doc, row.status, row.seq_text);
}

/**
 * Stores a block with its index rows and removes its transactions from the backlog, in `session`'s
 * transaction (so a crash leaves either all of it or none). Refuses (BlockConflictError) a block that would
 * give a transaction a second live block or an output a second live spender; the caller's transaction then
 * rolls back what was written. `transactionTexts`: the canonical texts of its transactions, when known.
 */
export async function insertBlock(
  session: SqlSession,
  block: Block,
  transactionTexts?: readonly string[],
): Promise<void> {
  const rows = new DerivedRows().add(block, true, transactionTexts);
  const stored = await session.query(
    `INSERT INTO blocks (id, node_pubkey, block_timestamp, tx_count, doc, voters)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id`,
    [
      block.id,
      block.block.node_pubkey,
      block.block.timestamp,
      block.block.transactions.length,
      serializeWithTransactions(block, rows.transactions.docs),
      serialize(block.block.voters),
    ],
  );
  if (stored.length === 0) throw new BlockConflictError(block.id, [{ kind: 'block' }]);
  const written = await insertDerivedRows(session, rows);
  if (
    written.transactions !== rows.transactions.txIds.length ||
    written.spends !== rows.spends.spenders.length
  ) {
    throw new BlockConflictError(block.id, await findConflicts(session, block, rows));
  }
  await session.query('DELETE FROM backlog WHERE tx_id = ANY($1::text[])', [rows.transactions.txIds]);
}

/** Which transactions of a refused block clash with live rows (of other blocks, or of itself). */
export async function findConflicts(
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

export async function getBlocks(
  session: SqlSession,
  ids: readonly string[],
): Promise<Map<string, StoredBlock>> {
  const rows = await session.query<BlockRow>(
    'SELECT id, status, seq::text AS seq_text, doc FROM blocks WHERE id = ANY($1::text[])',
    [ids],
  );
  return new Map(rows.map((row) => [row.id, storedBlock(row)]));
}

export async function blockStatuses(
  session: SqlSession,
  ids: readonly string[],
): Promise<Map<string, BlockStatus>> {
  const rows = await session.query<{ id: string; status: BlockStatus }>(
    'SELECT id, status FROM blocks WHERE id = ANY($1::text[])',
    [ids],
  );
  return new Map(rows.map((row) => [row.id, row.status]));
}

/** How many transactions a stored block holds (0 for no such block). */
export async function blockSizeAndTime(
  session: SqlSession,
  id: string,
): Promise<{ transactions: number; timestamp: string }> {
  const rows = await session.query<{ tx_count: number; block_timestamp: string }>(
    'SELECT tx_count, block_timestamp FROM blocks WHERE id = $1',
    [id],
  );
  const row = rows[0];
  return { transactions: row?.tx_count ?? 0, timestamp: row?.block_timestamp ?? '0' };
}

/** Records an election that decided valid; false if the block was already decided. */
export async function markBlockValid(session: SqlSession, id: string): Promise<boolean> {
  const rows = await session.query(
    "UPDATE blocks SET status = 'valid' WHERE id = $1 AND status = 'undecided' RETURNING id",
    [id],
  );
  return rows.length === 1;
}

/**
 * Records an election that decided invalid and, in `session`'s transaction, returns its transactions to
 * the backlog (to a random one of `assignees`) unless another live block holds them. Only the first call
 * for a block does anything, so however many nodes run the election each transaction is requeued once.
 * With `requeue: false` (a restore, which clears the backlog anyway) nothing goes back to the backlog.
 */
export async function invalidateBlock(
  session: SqlSession,
  id: string,
  assignees: readonly string[],
  options: { requeue?: boolean } = {},
): Promise<{ decided: boolean; requeued: string[] }> {
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

/** Blocks without a vote from `voter`, in insertion order (the vote pipeline's catch-up). */
export async function unvotedBlocks(
  session: SqlSession,
  voter: string,
  options: { afterSeq?: string; limit?: number } = {},
): Promise<StoredBlock[]> {
  const rows = await session.query<BlockRow>(
    `SELECT b.id, b.status, b.seq::text AS seq_text, b.doc FROM blocks b
     WHERE b.seq > $2::bigint AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.block_id = b.id AND v.voter = $1)
     ORDER BY b.seq LIMIT $3`,
    [voter, options.afterSeq ?? '0', options.limit ?? 100],
  );
  return rows.map(storedBlock);
}

/** Undecided blocks, in insertion order, with only their id and seq (the election's catch-up). */
export async function undecidedBlocks(
  session: SqlSession,
  options: { afterSeq?: string; limit?: number } = {},
): Promise<{ id: string; seq: string }[]> {
  const rows = await session.query<{ id: string; seq_text: string }>(
    `SELECT b.id, b.seq::text AS seq_text FROM blocks b WHERE b.status = 'undecided' AND b.seq > $1::bigint
     ORDER BY b.seq LIMIT $2`,
    [options.afterSeq ?? '0', options.limit ?? 1000],
  );
  return rows.map((row) => ({ id: row.id, seq: row.seq_text }));
}
