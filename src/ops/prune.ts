/**
 * The seed's rule for making a restored database safe to run (clear the backlog, delete every block after
 * the last valid one and the votes on them, rebuild the indexes), and re-deriving the index tables from
 * the blocks. See docs/backup.md.
 */
import type { Block } from '../protocol/block.ts';
import { DatabaseDoesNotExist } from '../storage/errors.ts';
import { DerivedRows } from '../storage/rows.ts';
import type { Storage } from '../storage/storage.ts';
import { wholeNumber } from './options.ts';

export interface PruneResult {
  /** the last block decided valid, or the genesis block when none is: everything after it was deleted */
  lastValidBlock: string;
  /** ids of the deleted blocks, in insertion order */
  blocks: string[];
  /** votes deleted (those on the deleted blocks) */
  votes: number;
  /** rows of the deleted blocks removed from the transactions table */
  transactions: number;
  /** backlog entries deleted (all of them) */
  backlog: number;
}

export interface RebuildResult {
  blocks: number;
  transactions: number;
  outputs: number;
  spends: number;
}

/**
 * The seed's rule for a restored database, before the node goes live: 1) delete the backlog, 2) delete
 * every block stored after the last block decided valid (by insertion order; the genesis block counts as
 * valid), with its transactions, outputs and spends rows, 3) delete the votes on those blocks, 4) rebuild
 * the indexes (REINDEX of every table). Steps 1–3 are one transaction; REINDEX runs after it, outside any
 * transaction (a sharded table's REINDEX cannot run inside one). Run it with the node stopped: after a
 * filesystem snapshot, a pg_restore, or (as restore does) an NDJSON restore.
 */
export async function pruneAfterLastValidBlock(storage: Storage): Promise<PruneResult> {
  if (!(await storage.isInitialized())) throw DatabaseDoesNotExist.named(storage.name);
  const result = await storage.transaction(async (pruning) => {
    const last = await pruning.lastValidBlock();
    const deleted = await pruning.deleteBlocksAfter(last.seq);
    const backlog = await pruning.clearBacklog();
    return { lastValidBlock: last.id, ...deleted, backlog };
  });
  await storage.reindex();
  return result;
}

/**
 * Re-derives the transactions, outputs and spends tables from the blocks table, in one transaction: the
 * step after restoring a pg_dump that left out those tables' data (docs/backup.md). Rows of blocks
 * decided invalid are written not live, as Storage leaves them.
 */
export async function rebuildDerivedRows(
  storage: Storage,
  options: { batchSize?: number } = {},
): Promise<RebuildResult> {
  const batchSize = wholeNumber(options.batchSize ?? 100, 'batchSize');
  if (!(await storage.isInitialized())) throw DatabaseDoesNotExist.named(storage.name);
  const result = await storage.transaction(async (rebuilding) => {
    await rebuilding.clearDerivedRows();
    const totals: RebuildResult = { blocks: 0, transactions: 0, outputs: 0, spends: 0 };
    await rebuilding.forEachBlockRecord(batchSize, async (stored) => {
      const rows = new DerivedRows();
      for (const { status, doc } of stored) rows.add(JSON.parse(doc) as Block, status !== 'invalid');
      const written = await rebuilding.writeDerivedRows(rows);
      totals.blocks += stored.length;
      totals.transactions += written.transactions;
      totals.outputs += written.outputs;
      totals.spends += written.spends;
    });
    return totals;
  });
  await storage.analyze();
  return result;
}
