import { createBlock, type Block } from '../../src/protocol/block.ts';
import type { KeyPair } from '../../src/protocol/crypto.ts';
import { createVote, type Vote } from '../../src/protocol/vote.ts';
import type { BlockStatus, Storage } from '../../src/storage/storage.ts';
import { generateKeyPair, TestChain } from './chain.ts';

/**
 * What happens to a block of a long test chain (three voters: the chain's node, `second` and `third`):
 *
 * - valid: the node and `second` vote yes, the election recorded it valid;
 * - invalid: the node and `second` vote no, recorded invalid (its transaction requeued to the backlog);
 * - undecided: only `third` voted (yes), so the election cannot decide it yet;
 * - unvoted: no votes yet;
 * - pending-valid / pending-invalid: the node and `second` voted yes / no, but the election has not run
 *   (a node that was down): stored undecided, decided as soon as an election counts it.
 */
export type Fate = 'valid' | 'invalid' | 'undecided' | 'unvoted' | 'pending-valid' | 'pending-invalid';

export interface LongChain {
  chain: TestChain;
  /** the node, second, third: every block's voters */
  voters: [KeyPair, KeyPair, KeyPair];
  /** every block in insertion order, the genesis block first: blocks[seq - 1] */
  blocks: Block[];
  /** fates[i] is blocks[i]'s; the genesis block's is undefined */
  fates: (Fate | undefined)[];
  /** votes stored on each block */
  votes: number[];
  /** transactions requeued to the backlog by the invalid blocks */
  backlog: number;
}

const YES_NO: Record<Fate, { voters: number[]; valid: boolean }> = {
  valid: { voters: [0, 1], valid: true },
  invalid: { voters: [0, 1], valid: false },
  undecided: { voters: [2], valid: true },
  unvoted: { voters: [], valid: true },
  'pending-valid': { voters: [0, 1], valid: true },
  'pending-invalid': { voters: [0, 1], valid: false },
};

/** The status each fate is stored with. */
export function storedStatus(fate: Fate): BlockStatus {
  return fate === 'valid' ? 'valid' : fate === 'invalid' ? 'invalid' : 'undecided';
}

/**
 * Writes the genesis block and then one block of one CREATE per fate, in order (so fates[k] is the block
 * with seq k + 2), with its votes and status, as nodes would have: blocks one writeBlock each, votes in
 * batches, every voter's votes chained through previous_block to the last block it voted on.
 */
export async function writeLongChain(storage: Storage, fates: readonly Fate[]): Promise<LongChain> {
  const chain = new TestChain();
  const voters: [KeyPair, KeyPair, KeyPair] = [chain.node, generateKeyPair(), generateKeyPair()];
  const voterKeys = voters.map((voter) => voter.publicKey);
  const owner = generateKeyPair().publicKey;
  await storage.init(chain.genesis);
  const lastVoted = voters.map(() => chain.genesis.id);
  const result: LongChain = {
    chain,
    voters,
    blocks: [chain.genesis],
    fates: [undefined],
    votes: [0],
    backlog: 0,
  };
  let pending: { vote: Vote; fate: Fate; id: string }[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const written = await storage.writeVotes(pending.map((entry) => entry.vote));
    if (written.duplicates.length > 0)
      throw new Error(`votes stored twice: ${written.duplicates.join(', ')}`);
    // Record a decision only once its votes are stored, as the election does.
    const decided = new Set<string>();
    for (const { fate, id } of pending) {
      if (decided.has(id)) continue;
      decided.add(id);
      if (fate === 'valid') {
        if (!(await storage.markBlockValid(id))) throw new Error(`block ${id} was decided already`);
      } else if (fate === 'invalid') {
        const { decided: done, requeued } = await storage.invalidateBlock(id, [chain.node.publicKey]);
        if (!done) throw new Error(`block ${id} was decided already`);
        result.backlog += requeued.length;
      }
    }
    pending = [];
  };
  for (const [index, fate] of fates.entries()) {
    const block = createBlock([chain.create(owner, { n: index })], chain.node, voterKeys);
    await storage.writeBlock(block);
    const { voters: who, valid } = YES_NO[fate];
    for (const v of who) {
      pending.push({ vote: createVote(voters[v]!, block.id, lastVoted[v]!, valid), fate, id: block.id });
      lastVoted[v] = block.id;
    }
    result.blocks.push(block);
    result.fates.push(fate);
    result.votes.push(who.length);
    if (pending.length >= 400) await flush();
  }
  await flush();
  return result;
}

/**
 * ≥ 1,500 blocks as a running federation leaves them: mostly valid, with invalid, undecided and unvoted
 * blocks among them (kept by the restore rule, being before the last valid one), the last valid block at
 * seq `lastValid` (≥ 1,000), then `tail` blocks after it that are invalid, undecided or unvoted (dropped by
 * the rule). The seqs cross 9→10, 99→100 and 999→1000, where text order and number order part: '999' is
 * the largest seq of the chain as text. Index k of the result is the block of seq k + 2.
 */
export function federationFates(lastValid: number, tail: number): Fate[] {
  const fates: Fate[] = [];
  for (let seq = 2; seq <= lastValid + tail; seq++) {
    if (seq > lastValid) fates.push((['invalid', 'undecided', 'unvoted'] as const)[seq % 3]!);
    else if (seq === lastValid) fates.push('valid');
    else if (seq % 47 === 0) fates.push('invalid');
    else if (seq % 61 === 0) fates.push('undecided');
    else if (seq % 89 === 0) fates.push('unvoted');
    else fates.push('valid');
  }
  return fates;
}

/** Sum of `values`. */
export function total(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0);
}
