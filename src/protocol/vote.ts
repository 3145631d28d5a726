import { isRecord, type Block } from './block.ts';
import { signToBase58, timestamp, verifyBase58, type KeyPair } from './crypto.ts';
import { BigchainDBError } from './errors.ts';
import { serialize } from './json.ts';

export interface VoteBody {
  voting_for_block: string;
  /** the block this node voted on before, chaining its votes */
  previous_block: string;
  is_block_valid: boolean;
  /** always null in 0.6 */
  invalid_reason: string | null;
  timestamp: string;
}

export interface Vote {
  node_pubkey: string;
  /** base58 Ed25519 signature of the canonical vote body */
  signature: string;
  vote: VoteBody;
}

/** A vote would make a block its own predecessor. */
export class CyclicBlockchainError extends BigchainDBError {}

/** More votes than 0.6 allows on one block: several from one node, or more than there are voters. */
export class MultipleVotesError extends BigchainDBError {
  /** `has_previous_vote`: this node has already voted more than once. */
  static byThisNode(blockId: string, voteCount: number, publicKey: string): MultipleVotesError {
    return new MultipleVotesError(`Block ${blockId} has ${voteCount} votes from public key ${publicKey}`, {
      blockId,
      voteCount,
      publicKey,
    });
  }

  /** `block_election_status`: one voter cast more than one vote. */
  static byVoter(blockId: string, voteCount: number, nodeId: string): MultipleVotesError {
    return new MultipleVotesError(
      `Block ${blockId} has multiple votes (${voteCount}) from voting node ${nodeId}`,
      {
        blockId,
        voteCount,
        nodeId,
      },
    );
  }

  /** `block_election_status`: more votes than voters. */
  static moreThanVoters(blockId: string, voteCount: number, voterCount: number): MultipleVotesError {
    return new MultipleVotesError(
      `Block ${blockId} has ${voteCount} votes cast, but only ${voterCount} voters`,
      {
        blockId,
        voteCount,
        voterCount,
      },
    );
  }
}

/** `has_previous_vote`: this node's one vote on the block is not correctly signed. */
export class ImproperVoteError extends BigchainDBError {
  static forBlock(blockId: string, publicKey: string): ImproperVoteError {
    return new ImproperVoteError(
      `Block ${blockId} already has an incorrectly signed vote from public key ${publicKey}`,
      { blockId, publicKey },
    );
  }
}

/** 0.6 `Bigchain.vote`. */
export function createVote(
  nodeKey: KeyPair,
  blockId: string,
  previousBlockId: string,
  isValid: boolean,
  invalidReason: string | null = null,
  now: string = timestamp(),
): Vote {
  if (blockId === previousBlockId) {
    throw new CyclicBlockchainError(`Block ${blockId} cannot be its own previous block`, { blockId });
  }
  const body: VoteBody = {
    voting_for_block: blockId,
    previous_block: previousBlockId,
    is_block_valid: isValid,
    invalid_reason: invalidReason,
    timestamp: now,
  };
  return {
    node_pubkey: nodeKey.publicKey,
    signature: signToBase58(serialize(body), nodeKey.privateKey),
    vote: body,
  };
}

/**
 * 0.6 `verify_vote_signature`: false when the signer is not one of the block's voters, else the Ed25519
 * check of the canonical vote body. Also false (never a throw) for anything not shaped like a vote: votes
 * come from the shared database, and a malformed one must simply count as a bad vote.
 */
export function verifyVoteSignature(block: Block, vote: Vote): boolean {
  const voters: unknown = isRecord(block) && isRecord(block.block) ? block.block.voters : undefined;
  if (!isVoteShaped(vote) || !Array.isArray(voters) || !voters.includes(vote.node_pubkey)) return false;
  try {
    return verifyBase58(serialize(vote.vote), vote.signature, vote.node_pubkey);
  } catch {
    return false; // a string with a lone surrogate cannot be serialized, so it cannot have been signed
  }
}

/**
 * The body is exactly the five fields `createVote` writes (extra fields would be signed data no node
 * produces); the envelope may carry more, such as a storage id.
 */
function isVoteShaped(vote: unknown): vote is Vote {
  if (!isRecord(vote) || typeof vote.node_pubkey !== 'string' || typeof vote.signature !== 'string')
    return false;
  const body = vote.vote;
  return (
    isRecord(body) &&
    Object.keys(body).length === 5 &&
    typeof body.voting_for_block === 'string' &&
    typeof body.previous_block === 'string' &&
    typeof body.is_block_valid === 'boolean' &&
    (body.invalid_reason === null || typeof body.invalid_reason === 'string') &&
    typeof body.timestamp === 'string'
  );
}
