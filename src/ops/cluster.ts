/**
 * The layout of the federation's shared database: its large tables' shards (set-shards) and the copies
 * each commit waits for (set-replicas), on either backend: both are PostgreSQL servers.
 */
import { messageOf } from '../protocol/errors.ts';
import { StorageError } from '../storage/errors.ts';
import { PARTITIONED_TABLES } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';
import { wholeNumber } from './options.ts';

/** What an administrative command did and what the operator still has to do, as lines to print. */
export interface AdminReport {
  done: string[];
  todo: string[];
}

/**
 * `set-shards N`: hash-partitions the large tables into N partitions each (N = 1 makes them plain tables
 * again). The rows are copied into the new layout in one transaction, so readers see the old or the new
 * tables, never a mix; writers wait meanwhile.
 */
export async function setShards(storage: Storage, shards: number): Promise<AdminReport> {
  wholeNumber(shards, 'The number of shards');
  const current = Number((await storage.meta('shards')) ?? '1');
  if (current === shards) {
    return {
      done: [`The tables already have ${shards} shard${shards === 1 ? '' : 's'}; nothing changed.`],
      todo: [],
    };
  }
  const moved = await storage.layOutTables(shards);
  const layout = shards === 1 ? 'plain tables (no partitions)' : `${shards} hash partitions each`;
  return {
    done: [
      `Re-laid out ${Object.keys(PARTITIONED_TABLES).join(', ')} as ${layout} in database \`${storage.name}\` (${moved} rows copied).`,
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
  wholeNumber(replicas, 'The number of replicas');
  const standbysNeeded = replicas - 1;
  const setting = standbysNeeded === 0 ? '' : `ANY ${standbysNeeded} (*)`;
  try {
    await storage.setSynchronousStandbys(standbysNeeded);
  } catch (error) {
    throw new StorageError(
      `set-replicas could not change synchronous_standby_names (${messageOf(error)}); it needs a PostgreSQL superuser`,
      { replicas },
      { cause: error },
    );
  }
  const { standbys, synchronousCommit } = await storage.replicationState();
  const names = standbys.join(', ') || 'none';
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
    synchronousCommit !== undefined &&
    !['on', 'remote_write', 'remote_apply'].includes(synchronousCommit)
  ) {
    todo.push(
      `synchronous_commit is '${synchronousCommit}', so commits do not wait for standbys; set it to 'on'.`,
    );
  }
  return { done, todo };
}
