import type { SqlSession } from '../driver.ts';
import { forEachRow } from './cursor.ts';
import type { BlockStatus } from './shared.ts';

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

/**
 * Runs `each` on every block row in insertion order, `batchSize` at a time through a cursor of `session`'s
 * transaction, so memory stays bounded however long the chain.
 */
export async function forEachBlockRecord(
  session: SqlSession,
  batchSize: number,
  each: (rows: BlockRecord[]) => Promise<void>,
): Promise<void> {
  await forEachRow<BlockRecord>(
    session,
    'SELECT b.id, b.status, b.node_pubkey, b.block_timestamp, b.tx_count, b.doc, b.voters FROM blocks b ORDER BY b.seq',
    batchSize,
    each,
  );
}

/** The vote rows on the blocks, in insertion order. */
export async function voteRecords(session: SqlSession, blockIds: readonly string[]): Promise<VoteRecord[]> {
  return session.query<VoteRecord>(
    `SELECT block_id, voter, previous_block, is_block_valid, vote_timestamp, doc FROM votes
     WHERE block_id = ANY($1::text[]) ORDER BY seq`,
    [blockIds],
  );
}

/** The transactions, outputs and spends rows naming the blocks. */
export async function indexRecords(session: SqlSession, blockIds: readonly string[]): Promise<IndexRecords> {
  return {
    transactions: await session.query<TransactionRecord>(
      'SELECT tx_id, block_id, position, uuid, live, doc FROM transactions WHERE block_id = ANY($1::text[])',
      [blockIds],
    ),
    outputs: await session.query<OutputIndexRecord>(
      'SELECT tx_id, cid, owner, block_id, live FROM outputs WHERE block_id = ANY($1::text[])',
      [blockIds],
    ),
    spends: await session.query<SpendIndexRecord>(
      'SELECT input_txid, input_cid, spender, block_id, live FROM spends WHERE block_id = ANY($1::text[])',
      [blockIds],
    ),
  };
}

/** The stored text of every copy of the transactions in blocks decided valid. */
export async function validTransactionTexts(
  session: SqlSession,
  txIds: readonly string[],
): Promise<{ tx_id: string; doc: string }[]> {
  return session.query<{ tx_id: string; doc: string }>(
    `SELECT t.tx_id, t.doc FROM transactions t JOIN blocks b ON b.id = t.block_id
     WHERE t.tx_id = ANY($1::text[]) AND b.status = 'valid'`,
    [txIds],
  );
}

/** Votes on a block that is not stored, in insertion order. */
export async function orphanedVotes(session: SqlSession): Promise<{ block_id: string; voter: string }[]> {
  return session.query<{ block_id: string; voter: string }>(
    `SELECT v.block_id, v.voter FROM votes v WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = v.block_id)
     ORDER BY v.seq`,
  );
}

/** Per index table and block not stored, the rows naming it: their count and the least transaction id. */
export async function orphanedIndexRows(
  session: SqlSession,
): Promise<{ tab: string; block_id: string; n: number; txid: string }[]> {
  return session.query<{ tab: string; block_id: string; n: number; txid: string }>(
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
export async function transactionsInSeveralValidBlocks(
  session: SqlSession,
): Promise<{ tx_id: string; blocks: string; n: number }[]> {
  return session.query<{ tx_id: string; blocks: string; n: number }>(
    `SELECT t.tx_id, string_agg(t.block_id, ' ' ORDER BY b.seq) AS blocks, count(*)::int AS n
     FROM transactions t JOIN blocks b ON b.id = t.block_id WHERE b.status = 'valid'
     GROUP BY t.tx_id HAVING count(*) > 1 ORDER BY min(b.seq)`,
  );
}

/** Outputs spent by more than one transaction of valid blocks, with the spenders and the last of them. */
export async function outputsSpentInSeveralValidBlocks(
  session: SqlSession,
): Promise<
  { input_txid: string; input_cid: number; spenders: string; last_block: string; last_spender: string }[]
> {
  return session.query(
    `SELECT s.input_txid, s.input_cid,
            string_agg(s.spender || ' in block ' || s.block_id, ', ' ORDER BY b.seq) AS spenders,
            (array_agg(s.block_id ORDER BY b.seq DESC))[1] AS last_block,
            (array_agg(s.spender ORDER BY b.seq DESC))[1] AS last_spender
     FROM spends s JOIN blocks b ON b.id = s.block_id WHERE b.status = 'valid'
     GROUP BY s.input_txid, s.input_cid HAVING count(DISTINCT s.spender) > 1 ORDER BY min(b.seq)`,
  );
}
