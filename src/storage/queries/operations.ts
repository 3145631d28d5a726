/**
 * The queries of the operator tools (src/ops/): whole-table reads for backup, the seed's prune rule,
 * re-deriving the index tables, the table layout (set-shards) and the synchronous standbys
 * (set-replicas). Each takes the session it runs on; Storage exposes them by name.
 */
import type { SqlSession } from '../driver.ts';
import { forEachRow } from './cursor.ts';
import type { VoteRecord } from './audit.ts';
import {
  hasPrimaryKey,
  PARTITIONED_TABLES,
  tableIndexStatements,
  tableStatements,
  type PartitionedTable,
} from '../schema.ts';

const LAID_OUT_TABLES = Object.keys(PARTITIONED_TABLES) as PartitionedTable[];

/** Every table init creates, for REINDEX. */
const REINDEXED_TABLES = ['bigchaindb_meta', 'rejected', ...LAID_OUT_TABLES];

/** The rows of a statement that deletes RETURNING 1, counted. */
async function countDeleted(session: SqlSession, statement: string, params: unknown[] = []): Promise<number> {
  const [row] = await session.query<{ n: number }>(
    `WITH d AS (${statement} RETURNING 1) SELECT count(*)::int AS n FROM d`,
    params,
  );
  return row?.n ?? 0;
}

/** Runs `each` on every vote row in insertion order, `batchSize` at a time through a cursor of `session`. */
export function forEachVoteRecord(
  session: SqlSession,
  batchSize: number,
  each: (rows: VoteRecord[]) => Promise<void>,
): Promise<void> {
  return forEachRow<VoteRecord>(
    session,
    'SELECT v.block_id, v.voter, v.previous_block, v.is_block_valid, v.vote_timestamp, v.doc FROM votes v ORDER BY v.seq',
    batchSize,
    each,
  );
}

export async function setMeta(session: SqlSession, key: string, value: string): Promise<void> {
  await session.query(
    'INSERT INTO bigchaindb_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2',
    [key, value],
  );
}

export async function deleteMeta(session: SqlSession, key: string): Promise<void> {
  await session.query('DELETE FROM bigchaindb_meta WHERE key = $1', [key]);
}

/** Which of the (block, voter) pairs already have a stored vote. */
export async function storedVoteKeys(
  session: SqlSession,
  keys: readonly { blockId: string; voter: string }[],
): Promise<{ blockId: string; voter: string }[]> {
  const rows = await session.query<{ block_id: string; voter: string }>(
    `SELECT v.block_id, v.voter FROM votes v
     JOIN unnest($1::text[], $2::text[]) AS k(block_id, voter) ON v.block_id = k.block_id AND v.voter = k.voter`,
    [keys.map((key) => key.blockId), keys.map((key) => key.voter)],
  );
  return rows.map((row) => ({ blockId: row.block_id, voter: row.voter }));
}

/** The last block, by insertion order, that is decided valid or is the genesis block. */
export async function lastValidBlock(
  session: SqlSession,
  genesisId: string,
): Promise<{ id: string; seq: string } | undefined> {
  const [row] = await session.query<{ id: string; seq_text: string }>(
    `SELECT b.id, b.seq::text AS seq_text FROM blocks b WHERE b.status = 'valid' OR b.id = $1
     ORDER BY b.seq DESC LIMIT 1`,
    [genesisId],
  );
  return row === undefined ? undefined : { id: row.id, seq: row.seq_text };
}

/**
 * Deletes every block stored after `seq` with its votes and its transactions, outputs and spends rows.
 * Returns the deleted blocks' ids in insertion order and the votes and transactions rows deleted.
 */
export async function deleteBlocksAfter(
  session: SqlSession,
  seq: string,
): Promise<{ blocks: string[]; votes: number; transactions: number }> {
  const deleted = await session.query<{ id: string }>(
    `WITH deleted AS (DELETE FROM blocks WHERE seq > $1::bigint RETURNING id, seq)
     SELECT id FROM deleted ORDER BY seq`,
    [seq],
  );
  const blocks = deleted.map((row) => row.id);
  const votes = await countDeleted(session, 'DELETE FROM votes WHERE block_id = ANY($1::text[])', [blocks]);
  const transactions = await countDeleted(
    session,
    'DELETE FROM transactions WHERE block_id = ANY($1::text[])',
    [blocks],
  );
  await session.query('DELETE FROM outputs WHERE block_id = ANY($1::text[])', [blocks]);
  await session.query('DELETE FROM spends WHERE block_id = ANY($1::text[])', [blocks]);
  return { blocks, votes, transactions };
}

/** Deletes the whole backlog; returns how many entries it held. */
export function clearBacklog(session: SqlSession): Promise<number> {
  return countDeleted(session, 'DELETE FROM backlog');
}

/** Rebuilds every index of every table. A sharded table's REINDEX cannot run inside a transaction. */
export async function reindexTables(session: SqlSession): Promise<void> {
  for (const table of REINDEXED_TABLES) await session.query(`REINDEX TABLE ${table}`);
}

/** Empties the index tables derived from the blocks (transactions, outputs, spends). */
export async function clearDerivedRows(session: SqlSession): Promise<void> {
  await session.query('TRUNCATE transactions, outputs, spends');
}

/**
 * Lays the large tables out anew as `shards` hash partitions each (1: plain tables), copying their rows;
 * run in one transaction, so readers see the old or the new layout, never a mix. Returns the rows copied.
 */
export async function layOutTables(session: SqlSession, shards: number): Promise<number> {
  await session.query(`LOCK TABLE ${LAID_OUT_TABLES.join(', ')} IN ACCESS EXCLUSIVE MODE`);
  let rows = 0;
  for (const table of LAID_OUT_TABLES) {
    const old = `${table}_before_resharding`;
    await session.query(`ALTER TABLE ${table} RENAME TO ${old}`);
    if (hasPrimaryKey(table)) {
      await session.query(`ALTER TABLE ${old} RENAME CONSTRAINT ${table}_pkey TO ${old}_pkey`);
    }
    for (const statement of tableStatements(table, shards)) await session.query(statement);
    const copied = await session.query(`INSERT INTO ${table} SELECT * FROM ${old} RETURNING 1`);
    rows += copied.length;
    await session.query(`DROP TABLE ${old}`);
    for (const statement of tableIndexStatements(table)) await session.query(statement);
  }
  await setMeta(session, 'shards', String(shards));
  return rows;
}

/**
 * Makes every commit wait until `standbys` synchronous standbys have it (synchronous_standby_names =
 * 'ANY n (*)'; 0 resets it) and reloads the server's configuration. Needs a superuser.
 */
export async function setSynchronousStandbys(session: SqlSession, standbys: number): Promise<void> {
  if (!Number.isSafeInteger(standbys) || standbys < 0) throw new RangeError(`standbys: ${standbys}`);
  // ALTER SYSTEM takes no parameters: the value is built from a checked integer.
  if (standbys === 0) await session.query('ALTER SYSTEM RESET synchronous_standby_names');
  else await session.query(`ALTER SYSTEM SET synchronous_standby_names = 'ANY ${standbys} (*)'`);
  await session.query('SELECT pg_reload_conf()');
}

export interface ReplicationState {
  /** application names of the standbys streaming from the server */
  standbys: string[];
  synchronousCommit: string | undefined;
}

export async function replicationState(session: SqlSession): Promise<ReplicationState> {
  const standbys = await session.query<{ name: string }>(
    "SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
  );
  const [commit] = await session.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
  return { standbys: standbys.map((row) => row.name), synchronousCommit: commit?.synchronous_commit };
}
