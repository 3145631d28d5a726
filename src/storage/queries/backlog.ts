import { serialize } from '../../protocol/json.ts';
import type { Transaction } from '../../protocol/transaction.ts';
import type { SqlSession } from '../driver.ts';
import { insertColumns, partition, type WriteResult } from './shared.ts';

export interface BacklogEntry {
  transaction: Transaction;
  /** the row's text, as stored, which `transaction` was parsed from */
  text: string;
  assignee: string;
  assignedAt: Date;
  /** what the writer stored to show it checked the transaction (VerifiedSignatures.tag), else null */
  verifiedTag: string | null;
}

export interface RejectedTransaction {
  transaction: Transaction;
  reason: string;
  rejectedAt: Date;
}

/** The backlog columns a BacklogEntry is made of. */
export interface BacklogRow {
  assignee: string;
  assigned_at: Date;
  doc: string;
  verified_tag: string | null;
}

export function backlogEntry(row: BacklogRow): BacklogEntry {
  return {
    transaction: JSON.parse(row.doc) as Transaction,
    text: row.doc,
    assignee: row.assignee,
    assignedAt: new Date(row.assigned_at),
    verifiedTag: row.verified_tag,
  };
}

/** A transaction to insert into the backlog: for whom, and the writer's tag if it checked the transaction. */
export interface NewBacklogEntry {
  transaction: Transaction;
  /** serialize(transaction), when the writer has it already */
  text?: string;
  assignee: string;
  verifiedTag?: string;
}

/** Inserts transactions for their assignees; an id already in the backlog is reported, not overwritten. */
export async function writeBacklog(
  session: SqlSession,
  entries: readonly NewBacklogEntry[],
): Promise<WriteResult> {
  if (entries.length === 0) return { inserted: [], duplicates: [] };
  const ids = entries.map((entry) => entry.transaction.id);
  const rows = await insertColumns<{ tx_id: string }>(
    session,
    'backlog (tx_id, assignee, tx_timestamp, doc, verified_tag)',
    [
      ids,
      entries.map((entry) => entry.assignee),
      entries.map((entry) => entry.transaction.transaction.timestamp),
      entries.map((entry) => entry.text ?? serialize(entry.transaction)),
      entries.map((entry) => entry.verifiedTag ?? null),
    ],
    'ON CONFLICT DO NOTHING RETURNING tx_id',
  );
  return partition(ids, new Set(rows.map((row) => row.tx_id)));
}

export async function getBacklog(
  session: SqlSession,
  ids: readonly string[],
): Promise<Map<string, BacklogEntry>> {
  const rows = await session.query<BacklogRow & { tx_id: string }>(
    'SELECT tx_id, assignee, assigned_at, doc, verified_tag FROM backlog WHERE tx_id = ANY($1::text[])',
    [ids],
  );
  return new Map(rows.map((row) => [row.tx_id, backlogEntry(row)]));
}

/** The transactions assigned to a node, oldest transaction timestamp first (the seed's prefeed order). */
export async function backlogFor(
  session: SqlSession,
  assignee: string,
  limit: number,
): Promise<BacklogEntry[]> {
  const rows = await session.query<BacklogRow>(
    `SELECT assignee, assigned_at, doc, verified_tag FROM backlog WHERE assignee = $1
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
export async function deleteIncludedFromBacklog(
  session: SqlSession,
  ids: readonly string[],
): Promise<string[]> {
  const rows = await session.query<{ tx_id: string }>(
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
export async function reassignStale(
  session: SqlSession,
  maxAgeMs: number,
  nodes: readonly string[],
): Promise<{ txId: string; assignee: string }[]> {
  const rows = await session.query<{ tx_id: string; assignee: string }>(
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

/**
 * Moves invalid transactions out of the backlog, keeping each one's reason queryable: two statements, for
 * one transaction.
 */
export async function rejectTransactions(
  session: SqlSession,
  rejections: readonly { transaction: Transaction; reason: string }[],
): Promise<void> {
  if (rejections.length === 0) return;
  const ids = rejections.map((rejection) => rejection.transaction.id);
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
}

export async function getRejected(
  session: SqlSession,
  ids: readonly string[],
): Promise<Map<string, RejectedTransaction>> {
  const rows = await session.query<{ tx_id: string; reason: string; rejected_at: Date; doc: string }>(
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
