import type { Transaction, TransactionInput } from '../../protocol/transaction.ts';
import type { SqlSession } from '../driver.ts';
import type { DerivedRows } from '../rows.ts';
import { insertColumns, type BlockStatus } from './shared.ts';

/** One copy of a transaction in one block (a transaction requeued from an invalid block has several). */
export interface StoredTransaction {
  transaction: Transaction;
  blockId: string;
  status: BlockStatus;
  /** false once its block was decided invalid */
  live: boolean;
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

interface TransactionRow {
  block_id: string;
  live: boolean;
  status: BlockStatus;
  doc: string;
}

function storedTransaction(row: TransactionRow): StoredTransaction {
  return {
    transaction: JSON.parse(row.doc) as Transaction,
    blockId: row.block_id,
    status: row.status,
    live: row.live,
  };
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
  const transactions = await insertColumns(
    session,
    'transactions (tx_id, block_id, position, uuid, live, doc)',
    [t.txIds, t.blockIds, t.positions, t.uuids, t.live, t.docs],
    'ON CONFLICT DO NOTHING RETURNING 1',
  );
  const s = rows.spends;
  const spends = await insertColumns(
    session,
    'spends (input_txid, input_cid, spender, block_id, live)',
    [s.inputTxids, s.inputCids, s.spenders, s.blockIds, s.live],
    'ON CONFLICT DO NOTHING RETURNING 1',
  );
  const o = rows.outputs;
  const outputs = await insertColumns(
    session,
    'outputs (tx_id, cid, owner, block_id, live)',
    [o.txIds, o.cids, o.owners, o.blockIds, o.live],
    'ON CONFLICT DO NOTHING RETURNING 1',
  );
  return { transactions: transactions.length, outputs: outputs.length, spends: spends.length };
}

/** The live spender of each of the inputs (given as parallel columns) that has one. */
export async function liveSpenders(
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

/** Every stored copy of each transaction, with its block's status. */
export async function getTransactions(
  session: SqlSession,
  ids: readonly string[],
): Promise<StoredTransaction[]> {
  const rows = await session.query<TransactionRow>(
    `SELECT t.block_id, t.live, b.status, t.doc FROM transactions t JOIN blocks b ON b.id = t.block_id
     WHERE t.tx_id = ANY($1::text[]) ORDER BY b.seq`,
    [ids],
  );
  return rows.map(storedTransaction);
}

/** The blocks holding a transaction and their statuses (0.6 get_blocks_status_containing_tx). */
export async function blocksContainingTransaction(
  session: SqlSession,
  txId: string,
): Promise<{ blockId: string; status: BlockStatus }[]> {
  const rows = await session.query<{ block_id: string; status: BlockStatus }>(
    `SELECT t.block_id, b.status FROM transactions t JOIN blocks b ON b.id = t.block_id
     WHERE t.tx_id = $1 ORDER BY b.seq`,
    [txId],
  );
  return rows.map((row) => ({ blockId: row.block_id, status: row.status }));
}

/** Transactions whose `data.uuid` is `uuid`, from any block (0.6 get_tx_by_payload_uuid). */
export async function transactionsByUuid(session: SqlSession, uuid: string): Promise<StoredTransaction[]> {
  const rows = await session.query<TransactionRow>(
    `SELECT t.block_id, t.live, b.status, t.doc FROM transactions t JOIN blocks b ON b.id = t.block_id
     WHERE t.uuid = $1 ORDER BY b.seq, t.position`,
    [uuid],
  );
  return rows.map(storedTransaction);
}

/** The live spender (in a block not decided invalid) of each input that has one. */
export async function getSpenders(
  session: SqlSession,
  inputs: readonly TransactionInput[],
): Promise<SpendRecord[]> {
  if (inputs.length === 0) return [];
  return liveSpenders(
    session,
    inputs.map((input) => input.txid),
    inputs.map((input) => input.cid),
  );
}

/**
 * Outputs that `owner` holds (alone or as any participant of a threshold) in live blocks; with
 * `unspent`, only those no live transaction spends (0.6 get_owned_ids).
 */
export async function outputsByOwner(
  session: SqlSession,
  owner: string,
  options: { unspent?: boolean } = {},
): Promise<OwnedOutput[]> {
  const unspent = options.unspent
    ? 'AND NOT EXISTS (SELECT 1 FROM spends s WHERE s.input_txid = o.tx_id AND s.input_cid = o.cid AND s.live)'
    : '';
  const rows = await session.query<{ tx_id: string; cid: number; block_id: string; status: BlockStatus }>(
    `SELECT o.tx_id, o.cid, o.block_id, b.status FROM outputs o JOIN blocks b ON b.id = o.block_id
     WHERE o.owner = $1 AND o.live ${unspent} ORDER BY b.seq, o.tx_id, o.cid`,
    [owner],
  );
  return rows.map((row) => ({ txid: row.tx_id, cid: row.cid, blockId: row.block_id, status: row.status }));
}
