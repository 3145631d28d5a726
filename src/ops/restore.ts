/**
 * Restore of a backup (backup-format.ts) into an empty database, checked line by line, then made safe to
 * run by the seed's rule (prune.ts). See docs/backup.md.
 */
import { isGenesisBlock, shellBlock, type Block } from '../protocol/block.ts';
import { electionStatus } from '../protocol/election.ts';
import { messageOf } from '../protocol/errors.ts';
import { verifyStoredBlock, verifyStoredVote } from '../protocol/stored.ts';
import type { Vote } from '../protocol/vote.ts';
import { DatabaseAlreadyExists, StorageError } from '../storage/errors.ts';
import type { BlockStatus, Storage } from '../storage/storage.ts';
import {
  BackupError,
  LineRuns,
  nextLine,
  numberedLines,
  parseBlockLine,
  parseEndLine,
  parseHeader,
  parseLine,
  parseVoteLine,
  type BackupProgress,
  type NumberedLine,
  type RestoreInput,
} from './backup-format.ts';
import { wholeNumber } from './options.ts';
import { pruneAfterLastValidBlock } from './prune.ts';

/** The bigchaindb_meta key present while a restore is under way: a database holding it is incomplete. */
const RESTORE_MARKER = 'restore_in_progress';

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

interface NumberedVote {
  line: number;
  vote: Vote;
}

/**
 * Restores a backup into a database that is not initialized, then applies the seed's rule
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
 * dropped again, leaving the database uninitialized as it found it. Should the process die midway, the
 * database keeps a marker that makes a later restore refuse it until it is dropped.
 */
export async function restore(
  storage: Storage,
  input: RestoreInput,
  options: RestoreOptions = {},
): Promise<RestoreSummary> {
  const batchSize = wholeNumber(options.batchSize ?? 500, 'batchSize');
  const progressEvery = wholeNumber(options.progressEvery ?? 100, 'progressEvery');
  await assertEmpty(storage);

  const lines = numberedLines(input);
  let created = false;
  try {
    const header = parseHeader(await nextLine(lines, 'the header'));
    const first = await nextLine(lines, 'the genesis block');
    const genesis = verifiedBlockLine(first, options.federation);
    if (genesis.block.id !== header.genesis_block || !isGenesisBlock(genesis.block)) {
      throw new BackupError(
        first.number,
        `the first block must be the genesis block ${header.genesis_block}, not ${genesis.block.id}`,
      );
    }
    await storage.init(genesis.block);
    created = true;
    await storage.setMeta(RESTORE_MARKER, 'true');
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
        const { block, status } = verifiedBlockLine(line, options.federation, value);
        try {
          await storage.writeBlock(block);
        } catch (error) {
          throw new BackupError(
            line.number,
            `block ${block.id} could not be stored: ${messageOf(error)}`,
            { blockId: block.id },
            { cause: error },
          );
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
    const kept = await storage.counts();
    await storage.deleteMeta(RESTORE_MARKER);
    await storage.analyze();
    report();
    return {
      ...done,
      droppedBlocks: pruned.blocks.length,
      droppedVotes: pruned.votes,
      keptTransactions: kept.transactions,
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
  const unfinished = (await storage.meta(RESTORE_MARKER)) !== undefined;
  const what = unfinished
    ? 'holds an unfinished restore (the process stopped before it completed)'
    : 'is already initialized';
  throw new DatabaseAlreadyExists(
    `Database \`${storage.name}\` ${what}; restore only writes into an empty database: run \`bigchaindb drop\` first`,
    { database: storage.name, unfinishedRestore: unfinished },
  );
}

async function dropAfterFailure(storage: Storage, failure: unknown): Promise<void> {
  try {
    await storage.drop();
  } catch (dropError) {
    throw new StorageError(
      `${messageOf(failure)}; the partly restored database could not be dropped (${messageOf(dropError)}): ` +
        'run `bigchaindb drop` before trying again',
      { dropError },
      { cause: failure },
    );
  }
}

/** A block line whose block is intact and signed (and, with `federation`, made by a member). */
function verifiedBlockLine(
  line: NumberedLine,
  federation: readonly string[] | undefined,
  value?: Record<string, unknown>,
): { block: Block; status: BlockStatus } {
  const parsed = parseBlockLine(line, value);
  const { block, problems } = verifyStoredBlock(parsed.block, { federation: federation ?? 'unchecked' });
  if (block === undefined) {
    throw new BackupError(line.number, 'not a block: it needs exactly "id", "block" and "signature"');
  }
  const details = { blockId: block.id };
  const [problem] = problems;
  if (problem?.code === 'hash') {
    throw new BackupError(line.number, `block ${block.id}: the id is not the hash of its body`, details);
  }
  if (problem?.code === 'signature') {
    throw new BackupError(line.number, `block ${block.id}: the signature does not verify`, details);
  }
  if (problem?.code === 'creator') {
    throw new BackupError(
      line.number,
      `block ${block.id} was created by ${problem.nodePubkey}, which is not in the federation`,
      details,
    );
  }
  return { block, status: parsed.status };
}

/** Verifies a batch of votes against their stored blocks, then stores it in one writeVotes call. */
async function storeVotes(storage: Storage, batch: readonly NumberedVote[]): Promise<number> {
  const voters = await storage.blockVoters([
    ...new Set(batch.map((entry) => entry.vote.vote.voting_for_block)),
  ]);
  const keys = new Set<string>();
  for (const { line, vote } of batch) {
    const blockId = vote.vote.voting_for_block;
    const details = { blockId, voter: vote.node_pubkey };
    const blockVoters = voters.get(blockId);
    if (blockVoters === undefined) {
      throw new BackupError(line, `a vote on block ${blockId}, which is not in the backup`, details);
    }
    if (!verifyStoredVote(vote, { id: blockId, voters: blockVoters }).sound) {
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
  const [clash] = await storage.storedVoteKeys(
    batch.map(({ vote }) => ({ blockId: vote.vote.voting_for_block, voter: vote.node_pubkey })),
  );
  if (clash !== undefined) {
    const entry = batch.find(
      ({ vote }) => vote.vote.voting_for_block === clash.blockId && vote.node_pubkey === clash.voter,
    );
    throw new BackupError(entry?.line ?? 0, `a second vote by ${clash.voter} on block ${clash.blockId}`);
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
  const decided =
    status === 'valid'
      ? await storage.markBlockValid(id)
      : (await storage.invalidateBlock(id, [], { requeue: false })).decided;
  if (!decided) throw new BackupError(line, `block ${id}: could not set its status to ${status}`);
}

/**
 * Every block restored as valid or invalid must be what its restored votes decide: the status is the one
 * part of a line no signature covers. (An undecided block whose votes already decide it is kept undecided:
 * the election had not run when the backup was taken.) Blocks were stored in file order, so the n-th in
 * insertion order came from the n-th block line.
 */
async function checkStatuses(storage: Storage, blockLines: LineRuns, batchSize: number): Promise<void> {
  let rank = 0;
  await storage.snapshot((snapshot) =>
    snapshot.forEachBlockRecord(batchSize, async (rows) => {
      const decided = rows.filter((row) => row.status !== 'undecided');
      const votes = await snapshot.getVotes(decided.map((row) => row.id));
      for (const row of rows) {
        const line = blockLines.lineOf(rank++);
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
    }),
  );
}
