import type { FeedFetchRow, FeedPosition } from '../changefeed.ts';
import type { SqlSession } from '../driver.ts';
import { backlogEntry, type BacklogEntry, type BacklogRow } from './backlog.ts';
import { storedBlock, type BlockRow, type StoredBlock } from './blocks.ts';
import { storedVote, type StoredVote } from './votes.ts';

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

/** The position before everything not yet committed: a feed from here sees only what comes next. */
export async function feedHead(session: SqlSession): Promise<FeedPosition> {
  const [row] = await session.query<{ head_xid: string }>(
    'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS head_xid',
  );
  return { xid: row?.head_xid ?? '0', seq: '0' };
}

/** The next `limit` backlog inserts and reassignments after `after`, optionally only those for one assignee. */
export async function backlogFeedRows(
  session: SqlSession,
  after: FeedPosition,
  limit: number,
  assignee?: string,
): Promise<FeedFetchRow<BacklogEntry>[]> {
  const byAssignee = assignee === undefined ? '' : 'AND f.assignee = $4';
  const rows = await session.query<FeedColumns & BacklogRow>(
    `SELECT ${FEED_SELECT}, f.assignee, f.assigned_at, f.doc, f.verified_tag FROM backlog f
     WHERE (f.xid, f.seq) > ($1::xid8, $2::bigint) ${byAssignee} ORDER BY f.xid, f.seq LIMIT $3`,
    [after.xid, after.seq, limit, ...(assignee === undefined ? [] : [assignee])],
  );
  return rows.map((row) => feedRow(row, backlogEntry(row)));
}

/** The next `limit` blocks stored after `after`. */
export async function blockFeedRows(
  session: SqlSession,
  after: FeedPosition,
  limit: number,
): Promise<FeedFetchRow<StoredBlock>[]> {
  const rows = await session.query<FeedColumns & BlockRow>(
    `SELECT ${FEED_SELECT}, f.id, f.status, f.seq::text AS seq_text, f.doc FROM blocks f
     WHERE (f.xid, f.seq) > ($1::xid8, $2::bigint) ORDER BY f.xid, f.seq LIMIT $3`,
    [after.xid, after.seq, limit],
  );
  return rows.map((row) => feedRow(row, storedBlock(row)));
}

/** The next `limit` votes stored after `after`. */
export async function voteFeedRows(
  session: SqlSession,
  after: FeedPosition,
  limit: number,
): Promise<FeedFetchRow<StoredVote>[]> {
  const rows = await session.query<FeedColumns & { doc: string }>(
    `SELECT ${FEED_SELECT}, f.doc FROM votes f
     WHERE (f.xid, f.seq) > ($1::xid8, $2::bigint) ORDER BY f.xid, f.seq LIMIT $3`,
    [after.xid, after.seq, limit],
  );
  return rows.map((row) => feedRow(row, storedVote(row.doc)));
}
