/**
 * The backup file: NDJSON, a header line, one line per block in insertion order (its canonical text
 * embedded as is, and its status), one line per vote in insertion order, and an end line with the counts
 * so that a truncated file is refused rather than silently restored short:
 *
 *   {"format":"bigchaindb-backup","version":1,"genesis_block":"<id>","created":"<ISO time>"}
 *   {"block":{…},"status":"undecided"}        the genesis block first
 *   {"block":{…},"status":"valid"}
 *   {"vote":{…}}
 *   {"end":{"blocks":2,"votes":1}}
 *
 * This file writes and reads lines; what a block or a vote must be to be restored is src/protocol/stored.ts.
 */
import { createInterface } from 'node:readline';
import { isRecord } from '../protocol/block.ts';
import { messageOf } from '../protocol/errors.ts';
import { isVoteShaped } from '../protocol/stored.ts';
import type { Vote } from '../protocol/vote.ts';
import { StorageError } from '../storage/errors.ts';
import type { BlockStatus } from '../storage/storage.ts';

export const BACKUP_FORMAT = 'bigchaindb-backup';
export const BACKUP_VERSION = 1;

export const BLOCK_STATUSES: readonly BlockStatus[] = ['undecided', 'valid', 'invalid'];

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

/** A backup that cannot be restored; `line` is the 1-based line number where it went wrong. */
export class BackupError extends StorageError {
  readonly line: number;

  constructor(line: number, reason: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(`backup line ${line}: ${reason}`, { ...details, line }, options);
    this.line = line;
  }
}

export function headerLine(genesisBlock: string, created: Date): string {
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    genesis_block: genesisBlock,
    created: created.toISOString(),
  };
  return `${JSON.stringify(header)}\n`;
}

/** A block line, from the block's stored canonical text. */
export function blockLine(doc: string, status: BlockStatus): string {
  return `{"block":${doc},"status":${JSON.stringify(status)}}\n`;
}

/** A vote line, from the vote's stored canonical text. */
export function voteLine(doc: string): string {
  return `{"vote":${doc}}\n`;
}

export function endLine(counts: BackupProgress): string {
  return `${JSON.stringify({ end: counts })}\n`;
}

/**
 * Lines of a backup: a byte stream (a file or stdin, split here on \n or \r\n) or an iterable whose every
 * item is one line.
 */
export type RestoreInput = NodeJS.ReadableStream | AsyncIterable<string> | Iterable<string>;

export interface NumberedLine {
  number: number;
  text: string;
}

export interface LineSource extends AsyncIterable<NumberedLine>, AsyncIterator<NumberedLine> {
  /** lines read so far, blank ones included */
  readonly count: number;
  close(): void;
}

/** Non-blank lines with their 1-based numbers; a stream is split with readline, an iterable taken as lines. */
export function numberedLines(input: RestoreInput): LineSource {
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

export async function nextLine(lines: LineSource, what: string): Promise<NumberedLine> {
  const next = await lines.next();
  if (next.done === true) {
    throw new BackupError(lines.count + 1, `the backup ends before ${what}`);
  }
  return next.value;
}

/** The line as a JSON object. */
export function parseLine(line: NumberedLine): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch (error) {
    throw new BackupError(line.number, `not valid JSON (${messageOf(error)})`);
  }
  if (!isRecord(value)) throw new BackupError(line.number, 'not a JSON object');
  return value;
}

export function parseHeader(line: NumberedLine): BackupHeader {
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

/** A block line's parts, unchecked: the block is verified by the caller. */
export function parseBlockLine(
  line: NumberedLine,
  value: Record<string, unknown> = parseLine(line),
): { block: unknown; status: BlockStatus } {
  if (!exactKeys(value, ['block', 'status'])) {
    throw new BackupError(line.number, 'a block line has exactly the keys "block" and "status"');
  }
  const status = value.status as BlockStatus;
  if (!BLOCK_STATUSES.includes(status)) {
    throw new BackupError(line.number, `unknown block status ${JSON.stringify(value.status)}`);
  }
  return { block: value.block, status };
}

/** A vote line's vote, shaped like one: its signature is verified against its block by the caller. */
export function parseVoteLine(line: NumberedLine, value: Record<string, unknown>): Vote {
  const vote = value.vote;
  if (!exactKeys(value, ['vote']) || !isVoteShaped(vote, { exact: true })) {
    throw new BackupError(line.number, 'not a vote: it needs exactly "node_pubkey", "signature" and "vote"');
  }
  return vote;
}

export function parseEndLine(line: NumberedLine, value: Record<string, unknown>): BackupProgress {
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

/**
 * The line of the n-th block line, kept as runs of consecutive line numbers: one run unless the backup has
 * blank lines among its blocks, so memory stays constant however long the chain.
 */
export class LineRuns {
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
