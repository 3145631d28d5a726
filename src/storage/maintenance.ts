/**
 * Backup and restore of one node's database, on either backend, and the seed's rule for making a restored
 * database safe to run: clear the backlog, delete every block after the last valid one and the votes on
 * them, rebuild the indexes. See docs/backup.md.
 *
 * The backup is NDJSON: a header line, one line per block in insertion order (its canonical text embedded
 * as is, and its status), one line per vote in insertion order, and an end line with the counts so that a
 * truncated file is refused rather than silently restored short:
 *
 *   {"format":"bigchaindb-backup","version":1,"genesis_block":"<id>","created":"<ISO time>"}
 *   {"block":{…},"status":"undecided"}        the genesis block first
 *   {"block":{…},"status":"valid"}
 *   {"vote":{…}}
 *   {"end":{"blocks":2,"votes":1}}
 *
 * Blocks and votes are all a node's database holds that is not derived: transactions, outputs and spends
 * are indexes over the blocks (restore re-derives them through Storage.writeBlock), and the backlog is
 * cleared by the rule anyway.
 *
 * Storage has no queries for reading a whole table in order, setting a block invalid without requeueing,
 * or deleting blocks, so this file runs its own SQL on `storage.driver`.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import {
  blockHashIsValid,
  blockSignatureIsValid,
  isGenesisBlock,
  isRecord,
  shellBlock,
  type Block,
} from '../protocol/block.ts';
import { electionStatus } from '../protocol/election.ts';
import { verifyVoteSignature, type Vote } from '../protocol/vote.ts';
import { DatabaseAlreadyExists, DatabaseDoesNotExist, StorageError } from './errors.ts';
import { DerivedRows } from './rows.ts';
import { PARTITIONED_TABLES } from './schema.ts';
import { blockVoters, forEachRow, insertDerivedRows, type BlockStatus, type Storage } from './storage.ts';

export const BACKUP_FORMAT = 'bigchaindb-backup';
export const BACKUP_VERSION = 1;

/** The bigchaindb_meta key present while a restore is under way: a database holding it is incomplete. */
const RESTORE_MARKER = 'restore_in_progress';

const STATUSES: readonly BlockStatus[] = ['undecided', 'valid', 'invalid'];

/** Every table init creates, for REINDEX. */
const TABLES = ['bigchaindb_meta', 'rejected', ...Object.keys(PARTITIONED_TABLES)];

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  genesis_block: string;
  created: string;
}

/** Blocks and votes written (backup) or read and stored (restore) so far. */
export interface BackupProgress {
  blocks: number;
  votes: number;
}

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
 * Lines of a backup: a byte stream (a file or stdin, split here on \n or \r\n) or an iterable whose every
 * item is one line.
 */
export type RestoreInput = NodeJS.ReadableStream | AsyncIterable<string> | Iterable<string>;

export interface RestoreOptions {
  /** votes per writeVotes call; default 500 */
  batchSize?: number;
  /** onProgress is called every this many blocks (and after every batch of votes); default 100 */
  progressEvery?: number;
  onProgress?(done: BackupProgress): void;
  /**
   * The federation's public keys. When given, a block created by any other key is refused: without it,
   * restore checks that each block and vote is intact and signed by the keys it names, not who they are.
   */
  federation?: readonly string[];
}

export interface RestoreSummary {
  /** blocks read from the backup and stored, the genesis block included */
  blocks: number;
  /** votes read from the backup and stored */
  votes: number;
  /** of those, the blocks after the last valid one, deleted by the seed's rule */
  droppedBlocks: number;
  /** the votes on the dropped blocks */
  droppedVotes: number;
  /**
   * transactions in the blocks kept, the genesis block's included: one per block that holds it, so a
   * transaction re-included after an invalid block counts twice
   */
  keptTransactions: number;
  /** transactions in the dropped blocks */
  droppedTransactions: number;
  /** the last valid block (or the genesis block), which the rule kept */
  lastValidBlock: string;
}

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

/** A backup that cannot be restored; `line` is the 1-based line number where it went wrong. */
export class BackupError extends StorageError {
  readonly line: number;

  constructor(line: number, reason: string, details: Record<string, unknown> = {}) {
    super(`backup line ${line}: ${reason}`, { ...details, line });
    this.line = line;
  }
}

// --- backup ---------------------------------------------------------------------------------------------

/**
 * Writes every block (in insertion order, with its status) and every vote (in insertion order) of the
 * database as NDJSON, reading `batchSize` rows per query through cursors, so memory stays bounded whatever
 * the chain's length. Everything is read in one REPEATABLE READ, READ ONLY transaction: the backup is one
 * consistent snapshot even while a node keeps writing (PostgreSQL). On the embedded backend that
 * transaction holds the single connection until the backup ends, so a sink must not wait on the same
 * database.
 */
export async function backup(
  storage: Storage,
  out: BackupSink,
  options: BackupOptions = {},
): Promise<BackupSummary> {
  const batchSize = positiveInteger(options.batchSize ?? 100, 'batchSize');
  if (!(await storage.isInitialized())) throw notInitialised(storage);
  const write = sinkWriter(out);
  return storage.driver.transaction(async (session) => {
    await session.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const [meta] = await session.query<{ value: string }>(
      "SELECT value FROM bigchaindb_meta WHERE key = 'genesis_block'",
    );
    if (meta === undefined) throw notInitialised(storage);
    const header: BackupHeader = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      genesis_block: meta.value,
      created: new Date().toISOString(),
    };
    await write(`${JSON.stringify(header)}\n`);
    const done: BackupProgress = { blocks: 0, votes: 0 };

    await forEachRow<{ id: string; status: BlockStatus; doc: string }>(
      session,
      'SELECT b.id, b.status, b.doc FROM blocks b ORDER BY b.seq',
      batchSize,
      async (rows) => {
        if (done.blocks === 0 && rows[0]?.id !== meta.value) {
          throw new StorageError(
            `the first stored block is ${rows[0]?.id}, not the genesis block ${meta.value}`,
          );
        }
        await write(
          rows.map((row) => `{"block":${row.doc},"status":${JSON.stringify(row.status)}}\n`).join(''),
        );
        done.blocks += rows.length;
        options.onProgress?.({ ...done });
      },
    );
    await forEachRow<{ doc: string }>(
      session,
      'SELECT v.doc FROM votes v ORDER BY v.seq',
      batchSize,
      async (rows) => {
        await write(rows.map((row) => `{"vote":${row.doc}}\n`).join(''));
        done.votes += rows.length;
        options.onProgress?.({ ...done });
      },
    );

    await write(`${JSON.stringify({ end: done })}\n`);
    return { genesisBlock: meta.value, ...done };
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

// --- restore --------------------------------------------------------------------------------------------

/**
 * Restores a backup into a database that is not initialised, then applies the seed's rule
 * (pruneAfterLastValidBlock) before anything may run on it.
 *
 * Each line is checked before it is stored: the header's format and version; each block's id is the hash
 * of its body and its signature verifies (and, with `federation`, its creator is a member); the first block
 * is the genesis block the header names; each vote verifies against its block, which must be in the backup,
 * and no node votes twice on a block; the end line's counts match; a block stored as valid or invalid is
 * what its votes decide. Refusals are BackupErrors carrying the line number.
 *
 * The restore runs in steps (init, then each block, then batches of votes), not in one transaction: on any
 * failure, a refusal or an error reading the input or writing the database, everything it created is
 * dropped again, leaving the database uninitialised as it found it. Should the process die midway, the
 * database keeps a marker that makes a later restore refuse it until it is dropped.
 */
export async function restore(
  storage: Storage,
  input: RestoreInput,
  options: RestoreOptions = {},
): Promise<RestoreSummary> {
  const batchSize = positiveInteger(options.batchSize ?? 500, 'batchSize');
  const progressEvery = positiveInteger(options.progressEvery ?? 100, 'progressEvery');
  await assertEmpty(storage);

  const lines = numberedLines(input);
  let created = false;
  try {
    const header = parseHeader(await nextLine(lines, 'the header'));
    const first = await nextLine(lines, 'the genesis block');
    const genesis = parseBlockLine(first, options.federation);
    if (genesis.block.id !== header.genesis_block || !isGenesisBlock(genesis.block)) {
      throw new BackupError(
        first.number,
        `the first block must be the genesis block ${header.genesis_block}, not ${genesis.block.id}`,
      );
    }
    await storage.init(genesis.block);
    created = true;
    await storage.driver.query("INSERT INTO bigchaindb_meta (key, value) VALUES ($1, 'true')", [
      RESTORE_MARKER,
    ]);
    await setStatus(storage, genesis.block.id, genesis.status, first.number);

    const blockLines = new LineRuns();
    blockLines.add(first.number);
    const done: BackupProgress = { blocks: 1, votes: 0 };
    const report = () => options.onProgress?.({ ...done });
    let pending: NumberedVote[] = [];
    let phase: 'blocks' | 'votes' = 'blocks';
    let end: { line: number; counts: BackupProgress } | undefined;

    for await (const line of lines) {
      if (end !== undefined) throw new BackupError(line.number, 'nothing may follow the end line');
      const value = parseLine(line);
      if ('block' in value) {
        if (phase !== 'blocks') throw new BackupError(line.number, 'a block line after the vote lines');
        const { block, status } = parseBlockLine(line, options.federation, value);
        try {
          await storage.writeBlock(block);
        } catch (error) {
          throw new BackupError(line.number, `block ${block.id} could not be stored: ${messageOf(error)}`, {
            blockId: block.id,
            cause: error,
          });
        }
        await setStatus(storage, block.id, status, line.number);
        blockLines.add(line.number);
        done.blocks++;
        if (done.blocks % progressEvery === 0) report();
      } else if ('vote' in value) {
        phase = 'votes';
        pending.push({ line: line.number, vote: parseVoteLine(line, value) });
        if (pending.length >= batchSize) {
          done.votes += await storeVotes(storage, pending);
          pending = [];
          report();
        }
      } else if ('end' in value) {
        end = { line: line.number, counts: parseEndLine(line, value) };
      } else {
        throw new BackupError(line.number, `unknown line: expected "block", "vote" or "end"`);
      }
    }
    if (pending.length > 0) {
      done.votes += await storeVotes(storage, pending);
      report();
    }
    if (end === undefined) {
      throw new BackupError(
        lines.count + 1,
        `the backup is truncated: no end line after line ${lines.count}`,
      );
    }
    if (end.counts.blocks !== done.blocks || end.counts.votes !== done.votes) {
      throw new BackupError(
        end.line,
        `the end line counts ${end.counts.blocks} blocks and ${end.counts.votes} votes, the backup holds ` +
          `${done.blocks} blocks and ${done.votes} votes`,
      );
    }
    await checkStatuses(storage, blockLines, batchSize);

    const pruned = await pruneAfterLastValidBlock(storage);
    const [kept] = await storage.driver.query<{ n: number }>('SELECT count(*)::int AS n FROM transactions');
    await storage.driver.query('DELETE FROM bigchaindb_meta WHERE key = $1', [RESTORE_MARKER]);
    await storage.analyze();
    report();
    return {
      ...done,
      droppedBlocks: pruned.blocks.length,
      droppedVotes: pruned.votes,
      keptTransactions: kept?.n ?? 0,
      droppedTransactions: pruned.transactions,
      lastValidBlock: pruned.lastValidBlock,
    };
  } catch (error) {
    lines.close();
    if (created) await dropAfterFailure(storage, error);
    throw error;
  }
}

async function assertEmpty(storage: Storage): Promise<void> {
  if (!(await storage.isInitialized())) return;
  const [marker] = await storage.driver.query('SELECT 1 FROM bigchaindb_meta WHERE key = $1', [
    RESTORE_MARKER,
  ]);
  const what =
    marker === undefined
      ? 'is already initialised'
      : 'holds an unfinished restore (the process stopped before it completed)';
  throw new DatabaseAlreadyExists(
    `Database \`${storage.name}\` ${what}; restore only writes into an empty database: run \`bigchaindb drop\` first`,
    { database: storage.name, unfinishedRestore: marker !== undefined },
  );
}

async function dropAfterFailure(storage: Storage, failure: unknown): Promise<void> {
  try {
    await storage.drop();
  } catch (dropError) {
    throw new StorageError(
      `${messageOf(failure)}; the partly restored database could not be dropped (${messageOf(dropError)}): ` +
        'run `bigchaindb drop` before trying again',
      { cause: failure, dropError },
    );
  }
}

interface NumberedLine {
  number: number;
  text: string;
}

interface LineSource extends AsyncIterable<NumberedLine> {
  /** lines read so far, blank ones included */
  readonly count: number;
  close(): void;
}

/** Non-blank lines with their 1-based numbers; a stream is split with readline, an iterable taken as lines. */
function numberedLines(input: RestoreInput): LineSource & AsyncIterator<NumberedLine> {
  const stream = isStream(input) ? input : undefined;
  const reader = stream === undefined ? undefined : createInterface({ input: stream, crlfDelay: Infinity });
  const source = (reader ?? input) as AsyncIterable<string> | Iterable<string>;
  let count = 0;
  async function* generate(): AsyncGenerator<NumberedLine> {
    for await (const raw of source) {
      count++;
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (text.trim() !== '') yield { number: count, text };
    }
  }
  const iterator = generate();
  return {
    get count() {
      return count;
    },
    next: () => iterator.next(),
    [Symbol.asyncIterator]() {
      return this;
    },
    close() {
      reader?.close();
      const destroyable = stream as { destroy?: () => void } | undefined;
      destroyable?.destroy?.();
    },
  };
}

function isStream(input: RestoreInput): input is NodeJS.ReadableStream {
  return typeof (input as { pipe?: unknown }).pipe === 'function';
}

async function nextLine(
  lines: LineSource & AsyncIterator<NumberedLine>,
  what: string,
): Promise<NumberedLine> {
  const next = await lines.next();
  if (next.done === true) {
    throw new BackupError(lines.count + 1, `the backup ends before ${what}`);
  }
  return next.value;
}

function parseLine(line: NumberedLine): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch (error) {
    throw new BackupError(line.number, `not valid JSON (${messageOf(error)})`);
  }
  if (!isRecord(value)) throw new BackupError(line.number, 'not a JSON object');
  return value;
}

function parseHeader(line: NumberedLine): BackupHeader {
  const value = parseLine(line);
  if (value.format !== BACKUP_FORMAT) {
    throw new BackupError(
      line.number,
      `not a BigchainDB backup: the header's format is ${JSON.stringify(value.format)}, not "${BACKUP_FORMAT}"`,
    );
  }
  if (value.version !== BACKUP_VERSION) {
    throw new BackupError(
      line.number,
      `unsupported backup version ${JSON.stringify(value.version)}: this node reads version ${BACKUP_VERSION}`,
    );
  }
  if (typeof value.genesis_block !== 'string' || typeof value.created !== 'string') {
    throw new BackupError(line.number, 'the header needs "genesis_block" and "created" strings');
  }
  return value as unknown as BackupHeader;
}

function exactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((key) => own.includes(key));
}

function parseBlockLine(
  line: NumberedLine,
  federation: readonly string[] | undefined,
  value: Record<string, unknown> = parseLine(line),
): { block: Block; status: BlockStatus } {
  if (!exactKeys(value, ['block', 'status'])) {
    throw new BackupError(line.number, 'a block line has exactly the keys "block" and "status"');
  }
  const status = value.status as BlockStatus;
  if (!STATUSES.includes(status)) {
    throw new BackupError(line.number, `unknown block status ${JSON.stringify(value.status)}`);
  }
  const block = value.block;
  if (!isBlockShaped(block)) {
    throw new BackupError(line.number, 'not a block: it needs exactly "id", "block" and "signature"');
  }
  const details = { blockId: block.id };
  if (!blockHashIsValid(block)) {
    throw new BackupError(line.number, `block ${block.id}: the id is not the hash of its body`, details);
  }
  if (!blockSignatureIsValid(block)) {
    throw new BackupError(line.number, `block ${block.id}: the signature does not verify`, details);
  }
  if (federation !== undefined && !federation.includes(block.block.node_pubkey)) {
    throw new BackupError(
      line.number,
      `block ${block.id} was created by ${block.block.node_pubkey}, which is not in the federation`,
      details,
    );
  }
  return { block, status };
}

/** The fields every block document has, exactly those in the envelope (also used by the audit). */
export function isBlockShaped(block: unknown): block is Block {
  if (!isRecord(block) || !exactKeys(block, ['id', 'block', 'signature'])) return false;
  const body = block.block;
  return (
    typeof block.id === 'string' &&
    typeof block.signature === 'string' &&
    isRecord(body) &&
    typeof body.timestamp === 'string' &&
    typeof body.node_pubkey === 'string' &&
    Array.isArray(body.transactions) &&
    body.transactions.every(isRecord) &&
    Array.isArray(body.voters) &&
    body.voters.every((voter) => typeof voter === 'string')
  );
}

interface NumberedVote {
  line: number;
  vote: Vote;
}

function parseVoteLine(line: NumberedLine, value: Record<string, unknown>): Vote {
  const vote = value.vote;
  if (
    !exactKeys(value, ['vote']) ||
    !isRecord(vote) ||
    !exactKeys(vote, ['node_pubkey', 'signature', 'vote']) ||
    !isRecord(vote.vote) ||
    typeof vote.vote.voting_for_block !== 'string' ||
    typeof vote.node_pubkey !== 'string'
  ) {
    throw new BackupError(line.number, 'not a vote: it needs exactly "node_pubkey", "signature" and "vote"');
  }
  return vote as unknown as Vote;
}

function parseEndLine(line: NumberedLine, value: Record<string, unknown>): BackupProgress {
  const end = value.end;
  if (
    !exactKeys(value, ['end']) ||
    !isRecord(end) ||
    !Number.isSafeInteger(end.blocks) ||
    !Number.isSafeInteger(end.votes)
  ) {
    throw new BackupError(line.number, 'the end line is {"end":{"blocks":<count>,"votes":<count>}}');
  }
  return { blocks: end.blocks as number, votes: end.votes as number };
}

/** Verifies a batch of votes against their stored blocks, then stores it in one writeVotes call. */
async function storeVotes(storage: Storage, batch: readonly NumberedVote[]): Promise<number> {
  const blockIds = [...new Set(batch.map((entry) => entry.vote.vote.voting_for_block))];
  const voters = await blockVoters(storage.driver, blockIds);
  const keys = new Set<string>();
  for (const { line, vote } of batch) {
    const blockId = vote.vote.voting_for_block;
    const details = { blockId, voter: vote.node_pubkey };
    const blockVoters = voters.get(blockId);
    if (blockVoters === undefined) {
      throw new BackupError(line, `a vote on block ${blockId}, which is not in the backup`, details);
    }
    if (!verifyVoteSignature(shellBlock(blockId, blockVoters), vote)) {
      throw new BackupError(
        line,
        `the vote by ${vote.node_pubkey} on block ${blockId} does not verify (bad signature, or not one of the block's voters)`,
        details,
      );
    }
    const key = `${blockId} ${vote.node_pubkey}`;
    if (keys.has(key))
      throw new BackupError(line, `a second vote by ${vote.node_pubkey} on block ${blockId}`);
    keys.add(key);
  }
  const earlier = await storage.driver.query<{ block_id: string; voter: string }>(
    `SELECT v.block_id, v.voter FROM votes v
     JOIN unnest($1::text[], $2::text[]) AS k(block_id, voter) ON v.block_id = k.block_id AND v.voter = k.voter`,
    [batch.map((entry) => entry.vote.vote.voting_for_block), batch.map((entry) => entry.vote.node_pubkey)],
  );
  const [clash] = earlier;
  if (clash !== undefined) {
    const entry = batch.find(
      ({ vote }) => vote.vote.voting_for_block === clash.block_id && vote.node_pubkey === clash.voter,
    );
    throw new BackupError(entry?.line ?? 0, `a second vote by ${clash.voter} on block ${clash.block_id}`);
  }
  const result = await storage.writeVotes(batch.map((entry) => entry.vote));
  if (result.duplicates.length > 0) {
    throw new BackupError(
      batch[0]?.line ?? 0,
      `votes on ${result.duplicates.join(', ')} were already stored`,
    );
  }
  return batch.length;
}

/** Sets a freshly stored block's status (invalid clears its rows' live flags, without requeueing). */
async function setStatus(storage: Storage, id: string, status: BlockStatus, line: number): Promise<void> {
  if (status === 'undecided') return;
  let decided: boolean;
  if (status === 'valid') {
    decided = await storage.markBlockValid(id);
  } else {
    decided = (await storage.invalidateBlock(id, [], { requeue: false })).decided;
  }
  if (!decided) throw new BackupError(line, `block ${id}: could not set its status to ${status}`);
}

/**
 * Every block restored as valid or invalid must be what its restored votes decide: the status is the one
 * part of a line no signature covers. (An undecided block whose votes already decide it is kept undecided:
 * the election had not run when the backup was taken.) Blocks were stored in file order, so the n-th by
 * seq came from the n-th block line.
 */
async function checkStatuses(storage: Storage, blockLines: LineRuns, batchSize: number): Promise<void> {
  let after = '0';
  let rank = 0;
  for (;;) {
    const rows = await storage.driver.query<{
      id: string;
      seq_text: string;
      status: BlockStatus;
      voters: string;
    }>(
      `SELECT b.id, b.seq::text AS seq_text, b.status, b.voters FROM blocks b
       WHERE b.seq > $1::bigint ORDER BY b.seq LIMIT $2`,
      [after, batchSize],
    );
    if (rows.length === 0) return;
    const decided = rows.filter((row) => row.status !== 'undecided');
    const votes = await storage.getVotes(decided.map((row) => row.id));
    for (const row of rows) {
      const line = blockLines.lineOf(rank++);
      after = row.seq_text;
      if (row.status === 'undecided') continue;
      const cast = (votes.get(row.id) ?? []).map((stored) => stored.vote);
      // The votes were verified as they were stored.
      const outcome = electionStatus(
        shellBlock(row.id, JSON.parse(row.voters) as string[]),
        cast,
        () => true,
      );
      if (outcome !== row.status) {
        throw new BackupError(
          line,
          `block ${row.id} is marked ${row.status} but its ${cast.length} votes decide ${outcome}`,
          { blockId: row.id },
        );
      }
    }
  }
}

/**
 * The line of the n-th block line, kept as runs of consecutive line numbers: one run unless the backup has
 * blank lines among its blocks, so memory stays constant however long the chain.
 */
class LineRuns {
  private readonly runs: { rank: number; line: number }[] = [];
  private count = 0;

  add(line: number): void {
    const last = this.runs.at(-1);
    if (last === undefined || last.line + (this.count - last.rank) !== line) {
      this.runs.push({ rank: this.count, line });
    }
    this.count++;
  }

  lineOf(rank: number): number {
    // The last run starting at or before rank, by binary search.
    let low = 0;
    let high = this.runs.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((this.runs[middle]?.rank ?? Infinity) <= rank) low = middle;
      else high = middle - 1;
    }
    const run = this.runs[low];
    return run === undefined ? 0 : run.line + (rank - run.rank);
  }
}

// --- the seed's rule -------------------------------------------------------------------------------------

/**
 * The seed's rule for a restored database, before the node goes live: 1) delete the backlog, 2) delete
 * every block stored after the last block decided valid (by insertion order; the genesis block counts as
 * valid), with its transactions, outputs and spends rows, 3) delete the votes on those blocks, 4) rebuild
 * the indexes (REINDEX of every table). Steps 1–3 are one transaction; REINDEX runs after it, outside any
 * transaction (a sharded table's REINDEX cannot run inside one). Run it with the node stopped: after a
 * filesystem snapshot, a pg_restore, or (as restore does) an NDJSON restore.
 */
export async function pruneAfterLastValidBlock(storage: Storage): Promise<PruneResult> {
  if (!(await storage.isInitialized())) throw notInitialised(storage);
  const result = await storage.driver.transaction(async (session) => {
    const [last] = await session.query<{ id: string; seq_text: string }>(
      `SELECT b.id, b.seq::text AS seq_text FROM blocks b
       WHERE b.status = 'valid' OR b.id = (SELECT value FROM bigchaindb_meta WHERE key = 'genesis_block')
       ORDER BY b.seq DESC LIMIT 1`,
    );
    if (last === undefined) throw new StorageError(`Database \`${storage.name}\` has no genesis block`);
    const deleted = await session.query<{ id: string }>(
      `WITH deleted AS (DELETE FROM blocks WHERE seq > $1::bigint RETURNING id, seq)
       SELECT id FROM deleted ORDER BY seq`,
      [last.seq_text],
    );
    const ids = deleted.map((row) => row.id);
    const count = async (sql: string, params: unknown[] = []) => {
      const [row] = await session.query<{ n: number }>(
        `WITH d AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM d`,
        params,
      );
      return row?.n ?? 0;
    };
    const votes = await count('DELETE FROM votes WHERE block_id = ANY($1::text[])', [ids]);
    const transactions = await count('DELETE FROM transactions WHERE block_id = ANY($1::text[])', [ids]);
    await session.query('DELETE FROM outputs WHERE block_id = ANY($1::text[])', [ids]);
    await session.query('DELETE FROM spends WHERE block_id = ANY($1::text[])', [ids]);
    const backlog = await count('DELETE FROM backlog');
    return { lastValidBlock: last.id, blocks: ids, votes, transactions, backlog };
  });
  for (const table of TABLES) await storage.driver.query(`REINDEX TABLE ${table}`);
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
  const batchSize = positiveInteger(options.batchSize ?? 100, 'batchSize');
  if (!(await storage.isInitialized())) throw notInitialised(storage);
  const result = await storage.driver.transaction(async (session) => {
    await session.query('TRUNCATE transactions, outputs, spends');
    const totals: RebuildResult = { blocks: 0, transactions: 0, outputs: 0, spends: 0 };
    await forEachRow<{ status: BlockStatus; doc: string }>(
      session,
      'SELECT b.status, b.doc FROM blocks b ORDER BY b.seq',
      batchSize,
      async (stored) => {
        const rows = new DerivedRows();
        for (const { status, doc } of stored) rows.add(JSON.parse(doc) as Block, status !== 'invalid');
        const written = await insertDerivedRows(session, rows);
        totals.blocks += stored.length;
        totals.transactions += written.transactions;
        totals.outputs += written.outputs;
        totals.spends += written.spends;
      },
    );
    return totals;
  });
  await storage.analyze();
  return result;
}

// --- helpers --------------------------------------------------------------------------------------------

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function notInitialised(storage: Storage): DatabaseDoesNotExist {
  return DatabaseDoesNotExist.named(storage.name);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
