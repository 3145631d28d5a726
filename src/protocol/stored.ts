/**
 * Whether a block or vote read back from storage (a database row, a backup line) is sound on its own: one
 * definition for every reader of stored documents. Each check returns a verdict rather than throwing, with
 * the problems found as stable codes and the data a caller needs to word them its own way; a restore
 * refuses on the first problem, an audit reports them all.
 */
import { blockHashIsValid, blockSignatureIsValid, isRecord, shellBlock, type Block } from './block.ts';
import { verifyVoteSignature, type Vote } from './vote.ts';

// --- blocks -----------------------------------------------------------------------------------------------

/**
 * The fields every block document has: exactly the keys `id`, `block` and `signature`, the id and signature
 * strings, the body an object with a string `timestamp` and `node_pubkey`, `transactions` an array of
 * objects and `voters` an array of strings. Whether the transactions are valid is not looked at.
 *
 * @example
 * ```ts
 * import { isBlockShaped } from 'bigchaindb/protocol';
 *
 * declare const text: string; // a blocks.doc, or a line of a backup
 * const doc: unknown = JSON.parse(text);
 * if (isBlockShaped(doc)) console.log(doc.block.node_pubkey);
 * ```
 */
export function isBlockShaped(value: unknown): value is Block {
  if (!isRecord(value) || !exactKeys(value, ['id', 'block', 'signature'])) return false;
  const body = value.block;
  return (
    typeof value.id === 'string' &&
    typeof value.signature === 'string' &&
    isRecord(body) &&
    typeof body.timestamp === 'string' &&
    typeof body.node_pubkey === 'string' &&
    Array.isArray(body.transactions) &&
    body.transactions.every(isRecord) &&
    Array.isArray(body.voters) &&
    body.voters.every((voter) => typeof voter === 'string')
  );
}

export interface StoredBlockOptions {
  /**
   * Whom the block's creator (its `node_pubkey`) must be: the federation's public keys; `'voters'`, the
   * block's own voters standing in for a federation that is not known (then only the block's internal
   * consistency is checked); or `'unchecked'`, anyone (the block need only be intact and signed by the key
   * it names).
   */
  federation: readonly string[] | 'voters' | 'unchecked';
}

/** What can be wrong with a stored block document. */
export type StoredBlockProblemCode = 'not-a-block' | 'hash' | 'signature' | 'creator';

export type StoredBlockProblem =
  /** not shaped like a block (see isBlockShaped); no other check is made */
  | { code: 'not-a-block'; message: string }
  /** the id is not the hash of the body: the block was changed after it was made */
  | { code: 'hash'; message: string }
  /** the body is intact, but the signature does not verify with its `node_pubkey` */
  | { code: 'signature'; message: string; nodePubkey: string }
  /** the creator is not among the keys `federation` names (`among` says which rule was applied) */
  | { code: 'creator'; message: string; nodePubkey: string; among: 'federation' | 'voters' };

export interface StoredBlockVerdict {
  /** the document, when it is shaped like a block */
  block: Block | undefined;
  /** the block is shaped like one and its id is the hash of its body */
  intact: boolean;
  /**
   * In this order, at most one of each: `not-a-block` alone; else `hash` or (only when intact)
   * `signature`, then `creator`. The first is what a reader that stops at one problem should name.
   */
  problems: StoredBlockProblem[];
  /** no problems */
  sound: boolean;
}

/**
 * Checks a stored block document on its own: its shape, that its id is the hash of its body, that the
 * signature verifies (only asked of an intact block: a changed body is reported as that, not as a bad
 * signature too) and who created it. Never throws: a stored document may hold anything.
 *
 * @example
 * ```ts
 * import { verifyStoredBlock } from 'bigchaindb/protocol';
 *
 * declare const text: string; // a blocks.doc
 * declare const keyring: string[]; // the federation's public keys
 * const verdict = verifyStoredBlock(JSON.parse(text), { federation: keyring });
 * for (const problem of verdict.problems) console.log(problem.code, problem.message);
 * // without a keyring, the block's own voters stand for the federation
 * console.log(verifyStoredBlock(JSON.parse(text), { federation: 'voters' }).intact);
 * ```
 */
export function verifyStoredBlock(value: unknown, options: StoredBlockOptions): StoredBlockVerdict {
  if (!isBlockShaped(value)) {
    return {
      block: undefined,
      intact: false,
      problems: [
        {
          code: 'not-a-block',
          message:
            'not a block: it needs exactly "id", "block" (timestamp, transactions, node_pubkey, voters) ' +
            'and "signature"',
        },
      ],
      sound: false,
    };
  }
  const block = value;
  const nodePubkey = block.block.node_pubkey;
  const problems: StoredBlockProblem[] = [];
  const intact = blockHashIsValid(block);
  if (!intact) {
    problems.push({ code: 'hash', message: `block ${block.id}: the id is not the hash of its body` });
  } else if (!blockSignatureIsValid(block)) {
    problems.push({
      code: 'signature',
      message: `block ${block.id}: the signature does not verify with its node_pubkey ${nodePubkey}`,
      nodePubkey,
    });
  }
  const { federation } = options;
  if (federation !== 'unchecked') {
    const among = federation === 'voters' ? 'voters' : 'federation';
    const members = federation === 'voters' ? block.block.voters : federation;
    if (!members.includes(nodePubkey)) {
      const which = among === 'voters' ? 'one of its voters' : 'in the federation';
      problems.push({
        code: 'creator',
        message: `block ${block.id} was created by ${nodePubkey}, which is not ${which}`,
        nodePubkey,
        among,
      });
    }
  }
  return { block, intact, problems, sound: problems.length === 0 };
}

// --- votes ------------------------------------------------------------------------------------------------

export interface StoredVoteShapeOptions {
  /**
   * The shape a vote must have where it is read from outside (a backup line): exactly the keys
   * `node_pubkey`, `signature` and `vote`, a string `node_pubkey` and a string `vote.voting_for_block`.
   * Without it, only an object whose `vote` is an object: what is wrong with its fields is then reported
   * by the checks that read them (the block it names, its voter, its signature).
   */
  exact?: boolean;
}

/**
 * Whether a stored document has the envelope of a vote (see StoredVoteShapeOptions for the two rules). The
 * signature's type and the body's other fields are left to the signature check, which refuses a vote
 * whose body is not exactly the five fields a vote is made with.
 *
 * @example
 * ```ts
 * import { isVoteShaped } from 'bigchaindb/protocol';
 *
 * declare const line: string; // a line of a backup's votes
 * const doc: unknown = (JSON.parse(line) as { vote: unknown }).vote;
 * if (!isVoteShaped(doc, { exact: true })) throw new Error('not a vote');
 * console.log(doc.vote.voting_for_block);
 * ```
 */
export function isVoteShaped(value: unknown, options: StoredVoteShapeOptions = {}): value is Vote {
  if (!isRecord(value) || !isRecord(value.vote)) return false;
  if (options.exact !== true) return true;
  return (
    exactKeys(value, ['node_pubkey', 'signature', 'vote']) &&
    typeof value.node_pubkey === 'string' &&
    typeof value.vote.voting_for_block === 'string'
  );
}

/** What can be wrong with a stored vote document. */
export type StoredVoteProblemCode = 'not-a-vote' | 'other-block' | 'not-a-voter' | 'signature';

export type StoredVoteProblem =
  /** not shaped like a vote (see isVoteShaped); no other check is made */
  | { code: 'not-a-vote'; message: string }
  /** `vote.voting_for_block` (as stored, of any type) is not the id of the block it is checked against */
  | { code: 'other-block'; message: string; votingFor: unknown }
  /** `node_pubkey` (as stored, of any type) is not one of the block's voters */
  | { code: 'not-a-voter'; message: string; voter: unknown }
  /** a voter's vote whose signature does not verify: it was changed after it was signed, or is malformed */
  | { code: 'signature'; message: string; voter: string };

export interface StoredVoteVerdict {
  /** the document, when it is shaped like a vote (its fields may still be of any type in the loose shape) */
  vote: Vote | undefined;
  /**
   * In this order, at most one of each: `not-a-vote` alone; else `other-block`, then `not-a-voter` or
   * (only for one of the voters) `signature`.
   */
  problems: StoredVoteProblem[];
  /** no problems */
  sound: boolean;
}

/**
 * Checks a stored vote document against the block it is stored with, of which only the id and the voters
 * matter: its shape, that it names that block, that its voter is one of the block's voters and that its
 * signature verifies. Never throws: a stored document may hold anything.
 *
 * @example
 * ```ts
 * import { verifyStoredVote, type Block } from 'bigchaindb/protocol';
 *
 * declare const doc: string; // a votes.doc
 * declare const block: Block; // the block it votes on
 * const verdict = verifyStoredVote(JSON.parse(doc), { id: block.id, voters: block.block.voters });
 * console.log(verdict.problems.map((problem) => problem.code));
 * ```
 */
export function verifyStoredVote(
  value: unknown,
  block: { id: string; voters: readonly string[] },
  options: StoredVoteShapeOptions = {},
): StoredVoteVerdict {
  if (!isVoteShaped(value, options)) {
    const exactly = options.exact === true ? 'exactly ' : '';
    return {
      vote: undefined,
      problems: [
        {
          code: 'not-a-vote',
          message: `not a vote: it needs ${exactly}"node_pubkey", "signature" and "vote"`,
        },
      ],
      sound: false,
    };
  }
  const vote = value;
  const problems: StoredVoteProblem[] = [];
  const votingFor: unknown = vote.vote.voting_for_block;
  if (votingFor !== block.id) {
    problems.push({
      code: 'other-block',
      message: `the vote is on block ${String(votingFor)}, not on block ${block.id}`,
      votingFor,
    });
  }
  const voter: unknown = vote.node_pubkey;
  if (typeof voter !== 'string' || !block.voters.includes(voter)) {
    problems.push({
      code: 'not-a-voter',
      message: `${String(voter)} is not one of the block's voters`,
      voter,
    });
  } else if (!verifyVoteSignature(shellBlock(block.id, [...block.voters]), vote)) {
    problems.push({
      code: 'signature',
      message: `the vote by ${voter} does not verify: it was changed after it was signed`,
      voter,
    });
  }
  return { vote, problems, sound: problems.length === 0 };
}

function exactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((key) => own.includes(key));
}
