import { BackendUnsupported, StorageError } from './errors.ts';
import {
  hasPrimaryKey,
  PARTITIONED_TABLES,
  tableIndexStatements,
  tableStatements,
  type PartitionedTable,
} from './schema.ts';
import type { Storage } from './storage.ts';

/** What an administrative command did and what the operator still has to do, as lines to print. */
export interface AdminReport {
  done: string[];
  todo: string[];
}

const TABLES = Object.keys(PARTITIONED_TABLES) as PartitionedTable[];

function requireServer(storage: Storage, command: string): void {
  if (storage.backend === 'postgresql') return;
  throw new BackendUnsupported(
    `${command} needs the PostgreSQL backend: the embedded database (PGlite) runs inside this one process ` +
      'and has no shards or replicas. Run the federation on a PostgreSQL server (database.backend = ' +
      '"postgresql", or BIGCHAINDB_DATABASE_BACKEND=postgresql) and run the command again.',
    { backend: storage.backend },
  );
}

function positiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new StorageError(`${what} must be a whole number of at least 1, not ${value}`, { value });
  }
}

/**
 * `set-shards N`: hash-partitions the large tables into N partitions each (N = 1 makes them plain tables
 * again). The rows are copied into the new layout in one transaction, so readers see the old or the new
 * tables, never a mix; writers wait meanwhile.
 */
export async function setShards(storage: Storage, shards: number): Promise<AdminReport> {
  requireServer(storage, 'set-shards');
  positiveInteger(shards, 'The number of shards');
  const current = Number((await storage.meta('shards')) ?? '1');
  if (current === shards) {
    return {
      done: [`The tables already have ${shards} shard${shards === 1 ? '' : 's'}; nothing changed.`],
      todo: [],
    };
  }
  const moved = await storage.driver.transaction(async (session) => {
    await session.query(`LOCK TABLE ${TABLES.join(', ')} IN ACCESS EXCLUSIVE MODE`);
    let rows = 0;
    for (const table of TABLES) {
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
    await session.query("UPDATE bigchaindb_meta SET value = $1 WHERE key = 'shards'", [String(shards)]);
    return rows;
  });
  const layout = shards === 1 ? 'plain tables (no partitions)' : `${shards} hash partitions each`;
  return {
    done: [
      `Re-laid out ${TABLES.join(', ')} as ${layout} in database \`${storage.name}\` (${moved} rows copied).`,
      'Every node of the federation shares this database, so all of them use the new layout at once.',
    ],
    todo:
      shards === 1
        ? []
        : [
            'The partitions all live on this PostgreSQL server. To spread them over machines, move partitions to ' +
              'other tablespaces or servers (e.g. postgres_fdw foreign partitions), or run a distributed ' +
              'PostgreSQL such as Citus; the schema and queries do not change.',
          ],
  };
}

/**
 * `set-replicas R`: every commit waits until R − 1 synchronous standbys have it
 * (`synchronous_standby_names = 'ANY R-1 (*)'`); R = 1 turns the wait off. Needs superuser rights.
 */
export async function setReplicas(storage: Storage, replicas: number): Promise<AdminReport> {
  requireServer(storage, 'set-replicas');
  positiveInteger(replicas, 'The number of replicas');
  const standbysNeeded = replicas - 1;
  const setting = standbysNeeded === 0 ? '' : `ANY ${standbysNeeded} (*)`;
  try {
    if (setting === '') await storage.driver.query('ALTER SYSTEM RESET synchronous_standby_names');
    else await storage.driver.query(`ALTER SYSTEM SET synchronous_standby_names = '${setting}'`);
    await storage.driver.query('SELECT pg_reload_conf()');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StorageError(
      `set-replicas could not change synchronous_standby_names (${reason}); it needs a PostgreSQL superuser`,
      { replicas },
    );
  }
  const standbys = await storage.driver.query<{ name: string; state: string }>(
    "SELECT application_name AS name, state FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
  );
  const [commitMode] = await storage.driver.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
  const names = standbys.map((standby) => standby.name).join(', ') || 'none';
  const done = [
    standbysNeeded === 0
      ? 'Commits no longer wait for standbys (synchronous_standby_names reset): 1 copy of the data is required.'
      : `Every commit now waits until ${standbysNeeded} standby${standbysNeeded === 1 ? ' has' : 's have'} it ` +
        `(synchronous_standby_names = '${setting}'), so ${replicas} copies exist before a write is acknowledged.`,
    `Standbys streaming from this server now: ${standbys.length} (${names}).`,
  ];
  const todo: string[] = [];
  if (standbys.length < standbysNeeded) {
    todo.push(
      `Only ${standbys.length} of the ${standbysNeeded} standbys needed are connected: until enough connect, every ` +
        'write waits. Create each standby with `pg_basebackup -h <this server> -D <data dir> -R -X stream` and start it.',
    );
  }
  if (
    commitMode !== undefined &&
    !['on', 'remote_write', 'remote_apply'].includes(commitMode.synchronous_commit)
  ) {
    todo.push(
      `synchronous_commit is '${commitMode.synchronous_commit}', so commits do not wait for standbys; set it to 'on'.`,
    );
  }
  return { done, todo };
}
