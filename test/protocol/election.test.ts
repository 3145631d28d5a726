import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createBlock, type Block } from '../../src/protocol/block.ts';
import { generateKeyPair, signToBase58, type KeyPair } from '../../src/protocol/crypto.ts';
import {
  BLOCK_INVALID,
  BLOCK_UNDECIDED,
  BLOCK_VALID,
  decidedStatus,
  electionStatus,
  TX_IN_BACKLOG,
  type ElectionStatus,
} from '../../src/protocol/election.ts';
import { serialize } from '../../src/protocol/json.ts';
import { createVote, MultipleVotesError, verifyVoteSignature, type Vote } from '../../src/protocol/vote.ts';
import { PLACEHOLDER_TX } from '../support/fixtures.ts';

const TX = PLACEHOLDER_TX;
const PREVIOUS_P = 'p'.repeat(64);
const PREVIOUS_Q = 'q'.repeat(64);
const MAX_VOTERS = 9;
const KEYS: KeyPair[] = Array.from({ length: MAX_VOTERS }, generateKeyPair);
const OUTSIDER_KEYS: KeyPair[] = Array.from({ length: MAX_VOTERS }, generateKeyPair);

/** What voter i did: its slot holds its vote, nothing, or a vote cast in its place by an outsider. */
type Ballot = 'yes-P' | 'yes-Q' | 'no' | 'forged' | 'outsider' | 'absent';
const BALLOTS: readonly Ballot[] = ['yes-P', 'yes-Q', 'no', 'forged', 'outsider', 'absent'];

interface Federation {
  block: Block;
  voteFor(slot: number, ballot: Exclude<Ballot, 'absent'>): Vote;
}

/** A block voted on by the first n keys, and every vote each of them could cast on it (signed once). */
function federation(n: number): Federation {
  const block = createBlock(
    [TX],
    KEYS[0]!,
    KEYS.slice(0, n).map((key) => key.publicKey),
    '1472731230',
  );
  const cache = new Map<string, Vote>();
  const build = (slot: number, ballot: Exclude<Ballot, 'absent'>): Vote => {
    const voter = KEYS[slot]!;
    switch (ballot) {
      case 'yes-P':
        return createVote(voter, block.id, PREVIOUS_P, true, null, '1472731235');
      case 'yes-Q':
        return createVote(voter, block.id, PREVIOUS_Q, true, null, '1472731235');
      case 'no':
        return createVote(voter, block.id, PREVIOUS_P, false, null, '1472731235');
      case 'forged': {
        // a yes vote under the voter's name, signed by someone else
        const honest = createVote(voter, block.id, PREVIOUS_P, true, null, '1472731235');
        return {
          ...honest,
          signature: signToBase58(serialize(honest.vote), OUTSIDER_KEYS[slot]!.privateKey),
        };
      }
      case 'outsider':
        return createVote(OUTSIDER_KEYS[slot]!, block.id, PREVIOUS_P, true, null, '1472731235');
    }
  };
  return {
    block,
    voteFor(slot, ballot) {
      const key = `${slot}:${ballot}`;
      const cached = cache.get(key) ?? build(slot, ballot);
      cache.set(key, cached);
      return cached;
    },
  };
}

function votesOf(fed: Federation, ballots: readonly Ballot[]): Vote[] {
  const votes: Vote[] = [];
  ballots.forEach((ballot, slot) => {
    if (ballot !== 'absent') votes.push(fed.voteFor(slot, ballot));
  });
  return votes;
}

/**
 * The rules restated from behaviour §4 in integer form, independently of the implementation:
 * "no" (including bad and outsider votes) wins once it is at least half of the voters; "yes" needs more
 * than half of the voters, and more than half of the voters agreeing on one previous block.
 */
function expectedStatus(voterCount: number, ballots: readonly Ballot[]): ElectionStatus {
  const count = (ballot: Ballot): number => ballots.filter((b) => b === ballot).length;
  const cast = ballots.length - count('absent');
  const yes = count('yes-P') + count('yes-Q');
  const no = cast - yes;
  if (2 * no >= voterCount) return 'invalid';
  if (2 * yes > voterCount)
    return 2 * Math.max(count('yes-P'), count('yes-Q')) > voterCount ? 'valid' : 'invalid';
  return 'undecided';
}

/** Verification memoized per vote object: the same real check, done once per distinct vote. */
function memoizedVerify(): (block: Block, vote: Vote) => boolean {
  const verdicts = new Map<Vote, boolean>();
  return (block, vote) => {
    const verdict = verdicts.get(vote) ?? verifyVoteSignature(block, vote);
    verdicts.set(vote, verdict);
    return verdict;
  };
}

function* allBallotCombinations(n: number): Generator<Ballot[]> {
  if (n === 0) {
    yield [];
    return;
  }
  for (const rest of allBallotCombinations(n - 1)) for (const ballot of BALLOTS) yield [...rest, ballot];
}

function statusOf(n: number, ballots: readonly Ballot[]): ElectionStatus {
  const fed = federation(n);
  return electionStatus(fed.block, votesOf(fed, ballots));
}

describe('electionStatus', () => {
  it('exports the 0.6 status constants', () => {
    assert.deepEqual(
      [BLOCK_VALID, BLOCK_INVALID, BLOCK_UNDECIDED, TX_IN_BACKLOG],
      ['valid', 'invalid', 'undecided', 'backlog'],
    );
  });

  const namedCases: [string, number, Ballot[], ElectionStatus][] = [
    ['4 voters: 2 yes + 2 no', 4, ['yes-P', 'yes-P', 'no', 'no'], 'invalid'],
    ['4 voters: 4 yes split 2/2 over previous blocks', 4, ['yes-P', 'yes-P', 'yes-Q', 'yes-Q'], 'invalid'],
    ['4 voters: 4 yes on the same previous block', 4, ['yes-P', 'yes-P', 'yes-P', 'yes-P'], 'valid'],
    ['1 voter: yes', 1, ['yes-P'], 'valid'],
    ['1 voter: no', 1, ['no'], 'invalid'],
    ['3 voters: 2 yes, 1 absent', 3, ['yes-P', 'yes-P', 'absent'], 'valid'],
    ['2 voters: 1 yes, 1 absent', 2, ['yes-P', 'absent'], 'undecided'],
    ['2 voters: 1 yes, 1 no (tie)', 2, ['yes-P', 'no'], 'invalid'],
    [
      '4 voters: 2 yes, 2 absent (tie not yet broken)',
      4,
      ['yes-P', 'yes-P', 'absent', 'absent'],
      'undecided',
    ],
    ['4 voters: 2 yes, 1 no, 1 absent', 4, ['yes-P', 'yes-P', 'no', 'absent'], 'undecided'],
    ['4 voters: 3 yes split 2/1, 1 absent', 4, ['yes-P', 'yes-P', 'yes-Q', 'absent'], 'invalid'],
    ['4 voters: 3 yes on one previous block, 1 no', 4, ['yes-P', 'yes-P', 'yes-P', 'no'], 'valid'],
    ['3 voters: no votes yet', 3, ['absent', 'absent', 'absent'], 'undecided'],
    ['1 voter: a yes with a forged signature counts as no', 1, ['forged'], 'invalid'],
    ['2 voters: 1 yes + 1 outsider yes (counted as no)', 2, ['yes-P', 'outsider'], 'invalid'],
    ['3 voters: 2 yes + 1 forged', 3, ['yes-P', 'yes-P', 'forged'], 'valid'],
    ['5 voters: 3 yes split 2/1, 2 absent', 5, ['yes-P', 'yes-P', 'yes-Q', 'absent', 'absent'], 'invalid'],
  ];
  for (const [name, n, ballots, expected] of namedCases) {
    it(`${name} → ${expected}`, () => {
      assert.equal(expectedStatus(n, ballots), expected, 'the restated rules agree with the named case');
      assert.equal(statusOf(n, ballots), expected);
    });
  }

  it('calls a block without voters invalid, as 0.6 did (0 invalid votes ≥ ceil(0/2))', () => {
    const block = createBlock([TX], KEYS[0]!, [], '1472731230');
    assert.equal(electionStatus(block, []), 'invalid');
  });

  for (let n = 1; n <= 5; n++) {
    it(`matches the restated rules for every combination of ${n} voter(s) (${BALLOTS.length ** n} cases)`, () => {
      const fed = federation(n);
      const verify = memoizedVerify();
      for (const ballots of allBallotCombinations(n)) {
        const votes = votesOf(fed, ballots);
        const expected = expectedStatus(n, ballots);
        assert.equal(electionStatus(fed.block, votes, verify), expected, ballots.join(','));
        assert.equal(
          electionStatus(fed.block, [...votes].reverse(), verify),
          expected,
          'order does not matter',
        );
      }
    });
  }

  it('matches the restated rules for larger federations', () => {
    const federations = new Map<number, { fed: Federation; verify: (block: Block, vote: Vote) => boolean }>();
    const ballots = fc
      .integer({ min: 6, max: MAX_VOTERS })
      .chain((n) => fc.array(fc.constantFrom(...BALLOTS), { minLength: n, maxLength: n }));
    fc.assert(
      fc.property(ballots, (combination) => {
        const n = combination.length;
        const entry = federations.get(n) ?? { fed: federation(n), verify: memoizedVerify() };
        federations.set(n, entry);
        const status = electionStatus(entry.fed.block, votesOf(entry.fed, combination), entry.verify);
        assert.equal(status, expectedStatus(n, combination));
      }),
      { numRuns: 300 },
    );
  });

  it('counts a yes vote signed for another block, stored under this one, as a no', () => {
    const fed = federation(1);
    const moved = createVote(KEYS[0]!, 'f'.repeat(64), PREVIOUS_P, true, null, '1472731235');
    assert.equal(electionStatus(fed.block, [moved]), 'invalid');
  });

  it('uses the verifier it is given', () => {
    const fed = federation(1);
    const forged = votesOf(fed, ['forged']);
    assert.equal(electionStatus(fed.block, forged), 'invalid');
    assert.equal(
      electionStatus(fed.block, forged, () => true),
      'valid',
    );
  });

  it('refuses more than one vote from one voter, with the 0.6 message', () => {
    const fed = federation(4);
    const [yes, no] = [fed.voteFor(1, 'yes-P'), fed.voteFor(1, 'no')];
    const expected = {
      name: 'MultipleVotesError',
      message: `Block ${fed.block.id} has multiple votes (2) from voting node ${KEYS[1]!.publicKey}`,
    };
    assert.throws(() => electionStatus(fed.block, [yes, yes]), expected);
    assert.throws(() => electionStatus(fed.block, [fed.voteFor(0, 'yes-P'), yes, no]), expected);
    assert.throws(() => electionStatus(fed.block, [yes, no]), MultipleVotesError);
  });

  it('refuses more votes than voters, with the 0.6 message', () => {
    const fed = federation(1);
    const votes = [fed.voteFor(0, 'yes-P'), fed.voteFor(0, 'outsider')];
    assert.throws(() => electionStatus(fed.block, votes), {
      name: 'MultipleVotesError',
      message: `Block ${fed.block.id} has 2 votes cast, but only 1 voters`,
    });
  });

  it('reports a voter with several votes before the total', () => {
    const fed = federation(1);
    const yes = fed.voteFor(0, 'yes-P');
    assert.throws(() => electionStatus(fed.block, [yes, yes, fed.voteFor(0, 'outsider')]), {
      message: `Block ${fed.block.id} has multiple votes (2) from voting node ${KEYS[0]!.publicKey}`,
    });
  });
});

/** Every way the absent voters of a combination could still vote. */
function* completions(ballots: readonly Ballot[]): Generator<Ballot[]> {
  const slot = ballots.indexOf('absent');
  if (slot === -1) {
    yield [...ballots];
    return;
  }
  for (const ballot of ['yes-P', 'yes-Q', 'no'] as const)
    yield* completions(ballots.map((b, i) => (i === slot ? ballot : b)));
}

describe('decidedStatus', () => {
  it('holds a split "invalid" as undecided while the missing voters could still make it valid', () => {
    const fed = federation(4);
    const split = votesOf(fed, ['yes-P', 'yes-P', 'yes-Q', 'absent']);
    assert.equal(electionStatus(fed.block, split), 'invalid');
    assert.equal(decidedStatus(fed.block, split), 'undecided');
    const complete = votesOf(fed, ['yes-P', 'yes-P', 'yes-Q', 'yes-P']);
    assert.equal(decidedStatus(fed.block, complete), 'valid');
  });

  for (let n = 1; n <= 5; n++) {
    it(`for ${n} voter(s): decides only what no further vote can change, and holds back only what one can`, () => {
      const fed = federation(n);
      const verify = memoizedVerify();
      for (const ballots of allBallotCombinations(n)) {
        const votes = votesOf(fed, ballots);
        const status = electionStatus(fed.block, votes, verify);
        const decided = decidedStatus(fed.block, votes, verify);
        const outcomes = new Set([...completions(ballots)].map((full) => expectedStatus(n, full)));
        if (decided !== BLOCK_UNDECIDED) {
          assert.equal(decided, status, ballots.join(','));
          assert.deepEqual([...outcomes], [decided], `final: ${ballots.join(',')}`);
        } else if (status === BLOCK_INVALID) {
          assert.ok(outcomes.has(BLOCK_VALID), `held back needlessly: ${ballots.join(',')}`);
        } else {
          assert.equal(status, BLOCK_UNDECIDED);
        }
      }
    });
  }
});
