/**
 * The one schema both backends run. Blocks and votes keep their canonical JSON text exactly as hashed and
 * signed (text, not jsonb, which would reorder keys and rewrite numbers); the other columns are indexes
 * derived from them, so every question the node asks is answered through an index.
 *
 * `live` marks rows of blocks not decided invalid. Partial unique indexes over live rows make it
 * impossible to store two live blocks that include the same transaction or spend the same output,
 * whatever the writers race (see Storage.writeBlock).
 *
 * `seq` (insertion order) and `xid` (the writing transaction) drive the changefeed: see changefeed.ts.
 *
 * Nothing is read by parsing a stored document in SQL (`doc::json`): what queries need (a block's voters,
 * its status) has a column of its own, so no content of a document can make a query fail. `blocks.voters`
 * is the canonical JSON array of the block's voters; it is the last column, where an upgrade of a version-1
 * database adds it, so every database has the same column order (set-shards copies with SELECT *).
 * `backlog.verified_tag` is last for the same reason (the upgrade from version 2 adds it).
 */

/**
 * 2: blocks.voters (the election reads voters from a column, never by parsing a block's text in SQL).
 * 3: backlog.verified_tag (which rows an API worker of the node checked: VerifiedSignatures.tag).
 */
export const SCHEMA_VERSION = '3';

/** Tables that set-shards hash-partitions, each by the key every lookup of it names. */
export const PARTITIONED_TABLES = {
  blocks: 'id',
  transactions: 'tx_id',
  outputs: 'tx_id',
  spends: 'input_txid',
  votes: 'block_id',
  backlog: 'tx_id',
} as const;

export type PartitionedTable = keyof typeof PARTITIONED_TABLES;

/** The tables whose inserts the changefeed reports, and the NOTIFY channel of each. */
export const FEED_TABLES = ['backlog', 'blocks', 'votes'] as const;
export type FeedTable = (typeof FEED_TABLES)[number];

export function feedChannel(table: FeedTable): string {
  return `bigchaindb_${table}`;
}

const COLUMNS: Record<PartitionedTable, string> = {
  blocks: `
    id text NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('blocks_seq'),
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    node_pubkey text NOT NULL,
    block_timestamp text NOT NULL,
    tx_count integer NOT NULL,
    status text NOT NULL DEFAULT 'undecided' CHECK (status IN ('undecided', 'valid', 'invalid')),
    doc text NOT NULL,
    voters text NOT NULL,
    PRIMARY KEY (id)`,
  transactions: `
    tx_id text NOT NULL,
    block_id text NOT NULL,
    position integer NOT NULL,
    uuid text,
    live boolean NOT NULL DEFAULT true,
    doc text NOT NULL,
    PRIMARY KEY (tx_id, block_id)`,
  outputs: `
    tx_id text NOT NULL,
    cid integer NOT NULL,
    owner text NOT NULL,
    block_id text NOT NULL,
    live boolean NOT NULL DEFAULT true`,
  spends: `
    input_txid text NOT NULL,
    input_cid integer NOT NULL,
    spender text NOT NULL,
    block_id text NOT NULL,
    live boolean NOT NULL DEFAULT true`,
  votes: `
    block_id text NOT NULL,
    voter text NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('votes_seq'),
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    previous_block text NOT NULL,
    is_block_valid boolean NOT NULL,
    vote_timestamp text NOT NULL,
    doc text NOT NULL,
    PRIMARY KEY (block_id, voter)`,
  backlog: `
    tx_id text NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('backlog_seq'),
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    assignee text NOT NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    tx_timestamp text NOT NULL,
    doc text NOT NULL,
    verified_tag text,
    PRIMARY KEY (tx_id)`,
};

const INDEXES: Record<PartitionedTable, string[]> = {
  blocks: [
    'CREATE INDEX blocks_feed ON blocks (xid, seq)',
    'CREATE INDEX blocks_by_seq ON blocks (seq)',
    'CREATE INDEX blocks_timestamp ON blocks (block_timestamp)',
  ],
  transactions: [
    'CREATE UNIQUE INDEX transactions_live ON transactions (tx_id) WHERE live',
    'CREATE INDEX transactions_block ON transactions (block_id)',
    'CREATE INDEX transactions_uuid ON transactions (uuid)',
  ],
  outputs: [
    'CREATE INDEX outputs_owner ON outputs (owner)',
    'CREATE INDEX outputs_block ON outputs (block_id)',
  ],
  spends: [
    'CREATE UNIQUE INDEX spends_live ON spends (input_txid, input_cid) WHERE live',
    'CREATE INDEX spends_block ON spends (block_id)',
  ],
  votes: ['CREATE INDEX votes_feed ON votes (xid, seq)', 'CREATE INDEX votes_voter ON votes (voter, seq)'],
  backlog: [
    'CREATE INDEX backlog_feed ON backlog (xid, seq)',
    'CREATE INDEX backlog_assignee ON backlog (assignee, tx_timestamp)',
    'CREATE INDEX backlog_assigned_at ON backlog (assigned_at)',
  ],
};

/**
 * The table, hash-partitioned when shards > 1, without its indexes (set-shards adds them after copying).
 * Partition names carry the shard count, so a new layout can be built while the old one still exists.
 */
export function tableStatements(table: PartitionedTable, shards: number): string[] {
  const statements =
    shards <= 1
      ? [`CREATE TABLE ${table} (${COLUMNS[table]})`]
      : [`CREATE TABLE ${table} (${COLUMNS[table]}) PARTITION BY HASH (${PARTITIONED_TABLES[table]})`];
  for (let remainder = 0; shards > 1 && remainder < shards; remainder++) {
    statements.push(
      `CREATE TABLE ${table}_${shards}_${remainder} PARTITION OF ${table} ` +
        `FOR VALUES WITH (MODULUS ${shards}, REMAINDER ${remainder})`,
    );
  }
  // A block's text is ~700 kB: compressing it cost a third of a block write, and it is read whole anyway.
  if (table === 'blocks') statements.push('ALTER TABLE blocks ALTER COLUMN doc SET STORAGE EXTERNAL');
  return statements;
}

/** Tables with a primary key (outputs and spends need none: nothing looks them up by their whole row). */
export function hasPrimaryKey(table: PartitionedTable): boolean {
  return COLUMNS[table].includes('PRIMARY KEY');
}

/** Indexes and the changefeed trigger of a table; created on the parent, they cover every partition. */
export function tableIndexStatements(table: PartitionedTable): string[] {
  const statements = [...INDEXES[table]];
  if ((FEED_TABLES as readonly string[]).includes(table)) {
    const events = table === 'backlog' ? 'INSERT OR UPDATE OF assignee' : 'INSERT';
    statements.push(
      `CREATE TRIGGER ${table}_notify AFTER ${events} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION bigchaindb_notify()`,
    );
  }
  return statements;
}

/** Every statement of a fresh schema, in order. */
export function schemaStatements(shards = 1): string[] {
  return [
    'CREATE TABLE bigchaindb_meta (key text PRIMARY KEY, value text NOT NULL)',
    'CREATE SEQUENCE blocks_seq',
    'CREATE SEQUENCE votes_seq',
    'CREATE SEQUENCE backlog_seq',
    // A statement-level wake-up, not the rows: listeners read what is new by (xid, seq), which also
    // covers whatever they missed while disconnected.
    `CREATE FUNCTION bigchaindb_notify() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_notify('bigchaindb_' || TG_TABLE_NAME, ''); RETURN NULL; END $$`,
    `CREATE TABLE rejected (
       tx_id text PRIMARY KEY,
       reason text NOT NULL,
       rejected_at timestamptz NOT NULL DEFAULT now(),
       doc text NOT NULL)`,
    ...Object.keys(PARTITIONED_TABLES).flatMap((table) => [
      ...tableStatements(table as PartitionedTable, shards),
      ...tableIndexStatements(table as PartitionedTable),
    ]),
  ];
}

/** Everything init creates, for drop. */
export const DROP_STATEMENTS = [
  ...Object.keys(PARTITIONED_TABLES).map((table) => `DROP TABLE IF EXISTS ${table} CASCADE`),
  'DROP TABLE IF EXISTS rejected',
  'DROP FUNCTION IF EXISTS bigchaindb_notify()',
  'DROP SEQUENCE IF EXISTS blocks_seq, votes_seq, backlog_seq',
  'DROP TABLE IF EXISTS bigchaindb_meta',
];
