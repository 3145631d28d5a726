import type { Block } from '../../protocol/block.ts';
import { serialize } from '../../protocol/json.ts';
import type { SqlSession } from '../driver.ts';
import { StorageError } from '../errors.ts';
import { DROP_STATEMENTS, SCHEMA_VERSION, schemaStatements } from '../schema.ts';
import { insertBlock } from './blocks.ts';
import { forEachRow } from './cursor.ts';

/** the advisory lock key that serializes init across processes ("bcdb" in ASCII) */
const INIT_LOCK = 0x6263_6462;
/** blocks read per batch while upgrading */
const UPGRADE_BATCH = 200;

export interface TableCounts {
  blocks: number;
  transactions: number;
  votes: number;
  backlog: number;
}

export async function isInitialized(session: SqlSession): Promise<boolean> {
  const [row] = await session.query<{ exists: boolean }>(
    "SELECT to_regclass('bigchaindb_meta') IS NOT NULL AS exists",
  );
  return row?.exists === true;
}

/**
 * Creates the schema and writes the genesis block, in `session`'s transaction; false (nothing done) when
 * the schema is already there. Nodes of a federation starting together all try: an advisory lock lets one
 * at a time check and create, so exactly one wins.
 */
export async function init(session: SqlSession, genesis: Block): Promise<boolean> {
  await session.query('SELECT pg_advisory_xact_lock($1)', [INIT_LOCK]);
  // A scan of the catalog with this statement's snapshot: to_regclass could answer from a cache that
  // has not yet heard of the tables another node committed while we waited for the lock.
  const [row] = await session.query<{ exists: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'bigchaindb_meta') AS exists",
  );
  if (row?.exists === true) return false;
  for (const statement of schemaStatements()) await session.query(statement);
  await session.query(
    "INSERT INTO bigchaindb_meta (key, value) VALUES ('schema_version', $1), ('genesis_block', $2), ('shards', '1')",
    [SCHEMA_VERSION, genesis.id],
  );
  await insertBlock(session, genesis);
  return true;
}

/**
 * Brings a database made by an earlier version of this software to the current schema, in `session`'s
 * transaction under the init lock (so nodes of a federation starting together upgrade it once). Returns
 * the version it upgraded from, or undefined when there was nothing to do. A database from a newer
 * version is refused: this code would misread it. `name` is the database's, for messages.
 */
export async function upgrade(session: SqlSession, name: string): Promise<{ from: string } | undefined> {
  await session.query('SELECT pg_advisory_xact_lock($1)', [INIT_LOCK]);
  const [row] = await session.query<{ value: string }>(
    "SELECT value FROM bigchaindb_meta WHERE key = 'schema_version'",
  );
  const from = row?.value ?? '?';
  if (from === SCHEMA_VERSION) return undefined;
  if (from !== '1' && from !== '2') {
    throw new StorageError(
      `Database \`${name}\` has schema version ${from}, which this node (schema ${SCHEMA_VERSION}) cannot read: ` +
        'run the version of BigchainDB that wrote it',
      { database: name, schemaVersion: from },
    );
  }
  if (from === '1') await addBlockVoters(session);
  // 2 → 3: rows already in the backlog have no tag, so the block pipeline checks their signatures.
  await session.query('ALTER TABLE backlog ADD COLUMN verified_tag text');
  await session.query("UPDATE bigchaindb_meta SET value = $1 WHERE key = 'schema_version'", [SCHEMA_VERSION]);
  return { from };
}

/** 1 → 2: blocks.voters, filled from each block's document as parsed here, not in SQL. */
async function addBlockVoters(session: SqlSession): Promise<void> {
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
}

/** Removes every table, index and function init created, in `session`'s transaction. */
export async function drop(session: SqlSession): Promise<void> {
  for (const statement of DROP_STATEMENTS) await session.query(statement);
}

export async function meta(session: SqlSession, key: string): Promise<string | undefined> {
  const [row] = await session.query<{ value: string }>('SELECT value FROM bigchaindb_meta WHERE key = $1', [
    key,
  ]);
  return row?.value;
}

export async function counts(session: SqlSession): Promise<TableCounts> {
  const [row] = await session.query<TableCounts>(
    `SELECT (SELECT count(*) FROM blocks)::int AS blocks, (SELECT count(*) FROM transactions)::int AS transactions,
            (SELECT count(*) FROM votes)::int AS votes, (SELECT count(*) FROM backlog)::int AS backlog`,
  );
  return row ?? { blocks: 0, transactions: 0, votes: 0, backlog: 0 };
}

/** Transactions waiting in the backlog, for every node. */
export async function backlogSize(session: SqlSession): Promise<number> {
  const [row] = await session.query<{ count: number }>('SELECT count(*)::int AS count FROM backlog');
  return row?.count ?? 0;
}

/** The cheapest statement the server must answer. */
export async function ping(session: SqlSession): Promise<void> {
  await session.query('SELECT 1');
}

/**
 * Refreshes the planner's statistics (with `vacuumBacklog`, also reclaims the backlog's deleted rows) and
 * returns the planner's estimate of the transactions rows.
 */
export async function analyze(session: SqlSession): Promise<number> {
  await session.query('ANALYZE blocks, transactions, outputs, spends, votes');
  const [row] = await session.query<{ rows: number }>(
    // The leaf tables: once sharded, the rows are in the partitions, not the parent.
    `SELECT coalesce(sum(greatest(reltuples, 0)), 0)::float8 AS rows FROM pg_class WHERE relkind = 'r'
     AND (relname = 'transactions' OR oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'transactions'::regclass))`,
  );
  return row?.rows ?? 0;
}
