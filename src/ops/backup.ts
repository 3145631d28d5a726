/**
 * Backup of one node's database, on either backend, as the NDJSON of backup-format.ts. Blocks and votes are
 * all a node's database holds that is not derived: transactions, outputs and spends are indexes over the
 * blocks (restore re-derives them), and the backlog is cleared by the restore rule anyway. See
 * docs/backup.md.
 */
import { once } from 'node:events';
import { DatabaseDoesNotExist, StorageError } from '../storage/errors.ts';
import type { Storage } from '../storage/storage.ts';
import { blockLine, endLine, headerLine, voteLine, type BackupProgress } from './backup-format.ts';
import { wholeNumber } from './options.ts';

/**
 * Where backup writes: a stream (its backpressure is honoured; backup does not end it) or a function
 * called with each chunk, awaited when it returns a promise.
 */
export type BackupSink = NodeJS.WritableStream | ((chunk: string) => unknown);

export interface BackupOptions {
  /** rows fetched per query, and lines per write; default 100 */
  batchSize?: number;
  /** called after each batch written */
  onProgress?(done: BackupProgress): void;
}

export interface BackupSummary extends BackupProgress {
  genesisBlock: string;
}

/**
 * Writes every block (in insertion order, with its status) and every vote (in insertion order) of the
 * database as NDJSON, `batchSize` rows at a time through cursors, so memory stays bounded whatever the
 * chain's length. Everything is read from one storage.snapshot(): the backup is one consistent state even
 * while a node keeps writing (PostgreSQL). On the embedded backend the snapshot holds the single
 * connection until the backup ends, so a sink must not wait on the same database.
 */
export async function backup(
  storage: Storage,
  out: BackupSink,
  options: BackupOptions = {},
): Promise<BackupSummary> {
  const batchSize = wholeNumber(options.batchSize ?? 100, 'batchSize');
  if (!(await storage.isInitialized())) throw DatabaseDoesNotExist.named(storage.name);
  const write = sinkWriter(out);
  return storage.snapshot(async (snapshot) => {
    const genesisBlock = await snapshot.genesisBlockId();
    await write(headerLine(genesisBlock, new Date()));
    const done: BackupProgress = { blocks: 0, votes: 0 };
    await snapshot.forEachBlockRecord(batchSize, async (rows) => {
      if (done.blocks === 0 && rows[0]?.id !== genesisBlock) {
        throw new StorageError(
          `the first stored block is ${rows[0]?.id}, not the genesis block ${genesisBlock}`,
        );
      }
      await write(rows.map((row) => blockLine(row.doc, row.status)).join(''));
      done.blocks += rows.length;
      options.onProgress?.({ ...done });
    });
    await snapshot.forEachVoteRecord(batchSize, async (rows) => {
      await write(rows.map((row) => voteLine(row.doc)).join(''));
      done.votes += rows.length;
      options.onProgress?.({ ...done });
    });
    await write(endLine(done));
    return { genesisBlock, ...done };
  });
}

function sinkWriter(out: BackupSink): (chunk: string) => Promise<void> {
  if (typeof out === 'function') {
    return async (chunk) => {
      await out(chunk);
    };
  }
  return async (chunk) => {
    // once() rejects if the stream emits 'error' while we wait for it to drain.
    if (!out.write(chunk)) await once(out, 'drain');
  };
}
