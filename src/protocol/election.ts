import type { Block } from './block.ts';
import { MultipleVotesError, verifyVoteSignature, type Vote } from './vote.ts';

export const BLOCK_VALID = 'valid';
export const BLOCK_INVALID = 'invalid';
export const BLOCK_UNDECIDED = 'undecided';
/** A transaction status only: in no block yet. */
export const TX_IN_BACKLOG = 'backlog';

export type ElectionStatus = typeof BLOCK_VALID | typeof BLOCK_INVALID | typeof BLOCK_UNDECIDED;

/**
 * 0.6 `block_election_status`, given every vote cast on the block. Votes that are badly signed or come
 * from a non-voter count as "no" votes (so a tie of an even federation is invalid), and a block is valid
 * only if a strict majority of the voters said yes AND agree on the same previous block.
 */
export function electionStatus(
  block: Block,
  votes: readonly Vote[],
  verify: (block: Block, vote: Vote) => boolean = verifyVoteSignature,
): ElectionStatus {
  const voterCount = block.block.voters.length;
  const votesByNode = new Map<string, number>();
  for (const vote of votes) votesByNode.set(vote.node_pubkey, (votesByNode.get(vote.node_pubkey) ?? 0) + 1);
  for (const [nodeId, count] of votesByNode) {
    if (count > 1) throw MultipleVotesError.byVoter(block.id, count, nodeId);
  }
  if (votes.length > voterCount) throw MultipleVotesError.moreThanVoters(block.id, votes.length, voterCount);

  const yesVotes = validYesVotes(block, votes, verify);
  const invalidCount = votes.length - yesVotes.length;
  const half = Math.floor(voterCount / 2);
  if (invalidCount >= Math.ceil(voterCount / 2)) return BLOCK_INVALID;
  if (yesVotes.length <= half) return BLOCK_UNDECIDED;

  const yesByPrevious = new Map<string, number>();
  let largestAgreement = 0;
  for (const { vote } of yesVotes) {
    const count = (yesByPrevious.get(vote.previous_block) ?? 0) + 1;
    yesByPrevious.set(vote.previous_block, count);
    largestAgreement = Math.max(largestAgreement, count);
  }
  return largestAgreement > half ? BLOCK_VALID : BLOCK_INVALID;
}

/**
 * The status to record for a block: electionStatus, except that an "invalid" which later votes could still
 * turn valid is held as undecided. That happens only when a majority said yes but split over their previous
 * blocks, and the voters still to vote could give one previous block a majority; 0.6 reported such a block
 * invalid (and requeued its transactions) and then valid once the last votes came in. Every other outcome
 * is final: no further votes can change it.
 */
export function decidedStatus(
  block: Block,
  votes: readonly Vote[],
  verify: (block: Block, vote: Vote) => boolean = verifyVoteSignature,
): ElectionStatus {
  const status = electionStatus(block, votes, verify);
  if (status !== BLOCK_INVALID) return status;
  const yesVotes = validYesVotes(block, votes, verify);
  const half = Math.floor(block.block.voters.length / 2);
  if (yesVotes.length <= half) return status;
  const yesByPrevious = new Map<string, number>();
  for (const { vote } of yesVotes)
    yesByPrevious.set(vote.previous_block, (yesByPrevious.get(vote.previous_block) ?? 0) + 1);
  // More votes than voters is an error (MultipleVotesError), so at most this many can still come.
  const remaining = block.block.voters.length - votes.length;
  const best = Math.max(...yesByPrevious.values());
  return best + remaining > half ? BLOCK_UNDECIDED : status;
}

/** The correctly signed yes votes of the block's voters; one signed for another block is no vote for it. */
function validYesVotes(
  block: Block,
  votes: readonly Vote[],
  verify: (block: Block, vote: Vote) => boolean,
): Vote[] {
  return votes.filter(
    (vote) =>
      vote.vote.voting_for_block === block.id && verify(block, vote) && vote.vote.is_block_valid === true,
  );
}
