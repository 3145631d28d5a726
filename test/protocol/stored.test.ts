import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockId, createBlock, type Block } from '../../src/protocol/block.ts';
import { generateKeyPair, signToBase58 } from '../../src/protocol/crypto.ts';
import { jsonClone, serialize } from '../../src/protocol/json.ts';
import {
  isBlockShaped,
  isVoteShaped,
  verifyStoredBlock,
  verifyStoredVote,
  type StoredBlockVerdict,
  type StoredVoteVerdict,
} from '../../src/protocol/stored.ts';
import { createVote, type Vote } from '../../src/protocol/vote.ts';
import { PLACEHOLDER_TX } from '../support/fixtures.ts';

const CREATOR = generateKeyPair();
const VOTER = generateKeyPair();
const OUTSIDER = generateKeyPair();
const FEDERATION = [CREATOR.publicKey, VOTER.publicKey];

const BLOCK: Block = createBlock([PLACEHOLDER_TX], CREATOR, FEDERATION, '1472731230');
const OTHER_BLOCK: Block = createBlock([PLACEHOLDER_TX], CREATOR, FEDERATION, '1472731231');
const TARGET = { id: BLOCK.id, voters: BLOCK.block.voters };
const VOTE: Vote = createVote(VOTER, BLOCK.id, OTHER_BLOCK.id, true, null, '1472731235');

function editedBlock(change: (block: Block) => void): Block {
  const copy = jsonClone(BLOCK);
  change(copy);
  return copy;
}

function editedVote(change: (vote: Vote) => void): Vote {
  const copy = jsonClone(VOTE);
  change(copy);
  return copy;
}

/** A block whose body `key` signs, and whose id is the hash of that body. */
function signedBy(key: { privateKey: string; publicKey: string }, body: Block['block']): Block {
  return { id: blockId(body), block: body, signature: signToBase58(serialize(body), key.privateKey) };
}

function codes(verdict: StoredBlockVerdict | StoredVoteVerdict): string[] {
  return verdict.problems.map((problem) => problem.code);
}

describe('isBlockShaped', () => {
  it('accepts a block made by createBlock', () => {
    assert.equal(isBlockShaped(BLOCK), true);
  });

  const malformed: [string, (block: Record<string, unknown> & { block: Record<string, unknown> }) => void][] =
    [
      ['a missing signature', (b) => delete b.signature],
      ['a missing id', (b) => delete b.id],
      ['an extra key', (b) => (b.seq = 1)],
      ['a number id', (b) => (b.id = 1)],
      ['a null signature', (b) => (b.signature = null)],
      ['a body that is an array', (b) => (b.block = [] as never)],
      ['a number timestamp', (b) => (b.block.timestamp = 1472731230)],
      ['a missing node_pubkey', (b) => delete b.block.node_pubkey],
      ['transactions that are not objects', (b) => (b.block.transactions = ['tx'])],
      ['transactions that are not an array', (b) => (b.block.transactions = {})],
      ['a voter that is not a string', (b) => (b.block.voters = [VOTER.publicKey, 7])],
    ];
  for (const [what, change] of malformed) {
    it(`refuses ${what}`, () => {
      const copy = jsonClone(BLOCK) as unknown as Parameters<typeof change>[0];
      change(copy);
      assert.equal(isBlockShaped(copy), false);
    });
  }

  it('refuses what is not an object', () => {
    for (const value of [null, undefined, 'block', 1, [BLOCK]]) assert.equal(isBlockShaped(value), false);
  });
});

describe('verifyStoredBlock', () => {
  it('passes a block made by a federation node, whichever creator rule', () => {
    for (const federation of [FEDERATION, 'voters', 'unchecked'] as const) {
      const verdict = verifyStoredBlock(jsonClone(BLOCK), { federation });
      assert.deepEqual(verdict.problems, [], String(federation));
      assert.equal(verdict.sound, true);
      assert.equal(verdict.intact, true);
      assert.deepEqual(verdict.block, BLOCK);
    }
  });

  it('not-a-block: no block, not intact, and no other check', () => {
    const verdict = verifyStoredBlock({ ...BLOCK, extra: true }, { federation: [OUTSIDER.publicKey] });
    assert.deepEqual(codes(verdict), ['not-a-block']);
    assert.equal(verdict.block, undefined);
    assert.equal(verdict.intact, false);
    assert.equal(verdict.sound, false);
    assert.match(verdict.problems[0]?.message ?? '', /^not a block: it needs exactly "id", "block"/);
    assert.deepEqual(codes(verifyStoredBlock('{"id":"x"}', { federation: 'unchecked' })), ['not-a-block']);
  });

  it('hash: an edited body, and its signature is not checked too', () => {
    const edited = editedBlock((b) => (b.block.timestamp = '1472731299'));
    const verdict = verifyStoredBlock(edited, { federation: 'unchecked' });
    assert.deepEqual(verdict.problems, [
      { code: 'hash', message: `block ${BLOCK.id}: the id is not the hash of its body` },
    ]);
    assert.equal(verdict.intact, false);
    assert.equal(verdict.sound, false);
    assert.equal(verdict.block, edited, 'the shaped document is returned as it is');
  });

  it('hash: an edited id', () => {
    const verdict = verifyStoredBlock(
      editedBlock((b) => (b.id = OTHER_BLOCK.id)),
      { federation: 'voters' },
    );
    assert.deepEqual(codes(verdict), ['hash']);
  });

  it('signature: an edited body with its id recomputed', () => {
    const edited = editedBlock((b) => {
      b.block.timestamp = '1472731299';
      b.id = blockId(b.block);
    });
    const verdict = verifyStoredBlock(edited, { federation: FEDERATION });
    assert.equal(verdict.intact, true);
    assert.deepEqual(verdict.problems, [
      {
        code: 'signature',
        message: `block ${edited.id}: the signature does not verify with its node_pubkey ${CREATOR.publicKey}`,
        nodePubkey: CREATOR.publicKey,
      },
    ]);
  });

  it("signature: another block's signature, or a body signed by another key than its node_pubkey", () => {
    const swapped = editedBlock((b) => (b.signature = OTHER_BLOCK.signature));
    assert.deepEqual(codes(verifyStoredBlock(swapped, { federation: 'unchecked' })), ['signature']);
    const byOther = signedBy(VOTER, BLOCK.block);
    assert.deepEqual(codes(verifyStoredBlock(byOther, { federation: FEDERATION })), ['signature']);
    const garbage = editedBlock((b) => (b.signature = 'not base58 0OIl'));
    assert.deepEqual(codes(verifyStoredBlock(garbage, { federation: 'unchecked' })), ['signature']);
  });

  it('creator: a block signed by a key outside the federation', () => {
    const body = { ...BLOCK.block, node_pubkey: OUTSIDER.publicKey };
    const outsiders = signedBy(OUTSIDER, body);
    assert.deepEqual(verifyStoredBlock(outsiders, { federation: FEDERATION }).problems, [
      {
        code: 'creator',
        message: `block ${outsiders.id} was created by ${OUTSIDER.publicKey}, which is not in the federation`,
        nodePubkey: OUTSIDER.publicKey,
        among: 'federation',
      },
    ]);
    assert.deepEqual(
      verifyStoredBlock(outsiders, { federation: 'voters' }).problems,
      [
        {
          code: 'creator',
          message: `block ${outsiders.id} was created by ${OUTSIDER.publicKey}, which is not one of its voters`,
          nodePubkey: OUTSIDER.publicKey,
          among: 'voters',
        },
      ],
      "without a federation, the block's voters stand for it",
    );
    const verdict = verifyStoredBlock(outsiders, { federation: 'unchecked' });
    assert.deepEqual(verdict.problems, [], 'unchecked: any creator that signed it');
    assert.equal(verdict.sound, true);
  });

  it('creator: the voters rule reads the block, not the federation', () => {
    const notVoting = createBlock([PLACEHOLDER_TX], CREATOR, [VOTER.publicKey], '1472731230');
    assert.deepEqual(codes(verifyStoredBlock(notVoting, { federation: 'voters' })), ['creator']);
    assert.deepEqual(codes(verifyStoredBlock(notVoting, { federation: FEDERATION })), []);
  });

  it('creator is checked whatever the hash and signature: the first problem comes first', () => {
    const edited = editedBlock((b) => (b.block.timestamp = '1472731299'));
    assert.deepEqual(codes(verifyStoredBlock(edited, { federation: [OUTSIDER.publicKey] })), [
      'hash',
      'creator',
    ]);
    const swapped = editedBlock((b) => (b.signature = OTHER_BLOCK.signature));
    assert.deepEqual(codes(verifyStoredBlock(swapped, { federation: [] })), ['signature', 'creator']);
  });
});

describe('isVoteShaped', () => {
  it('accepts a vote made by createVote, in either shape', () => {
    assert.equal(isVoteShaped(VOTE), true);
    assert.equal(isVoteShaped(VOTE, { exact: true }), true);
  });

  const notForExact: [string, (vote: Record<string, unknown> & { vote: Record<string, unknown> }) => void][] =
    [
      ['an extra envelope key', (v) => (v.id = 'x')],
      ['a missing signature', (v) => delete v.signature],
      ['a number node_pubkey', (v) => (v.node_pubkey = 1)],
      ['a null voting_for_block', (v) => (v.vote.voting_for_block = null)],
    ];
  for (const [what, change] of notForExact) {
    it(`exact refuses ${what}, which the loose shape leaves to the other checks`, () => {
      const copy = jsonClone(VOTE) as unknown as Parameters<typeof change>[0];
      change(copy);
      assert.equal(isVoteShaped(copy, { exact: true }), false);
      assert.equal(isVoteShaped(copy), true);
    });
  }

  it('refuses in either shape what has no vote object', () => {
    for (const value of [null, 'vote', [VOTE], { ...VOTE, vote: 'yes' }, { ...VOTE, vote: null }]) {
      assert.equal(isVoteShaped(value), false, JSON.stringify(value));
      assert.equal(isVoteShaped(value, { exact: true }), false, JSON.stringify(value));
    }
  });
});

describe('verifyStoredVote', () => {
  it('passes a voter’s vote on the block it names, in either shape', () => {
    for (const exact of [false, true]) {
      const verdict = verifyStoredVote(jsonClone(VOTE), TARGET, { exact });
      assert.deepEqual(verdict.problems, []);
      assert.equal(verdict.sound, true);
      assert.deepEqual(verdict.vote, VOTE);
    }
  });

  it('not-a-vote: no vote and no other check', () => {
    const verdict = verifyStoredVote({ node_pubkey: OUTSIDER.publicKey, vote: [] }, TARGET);
    assert.deepEqual(verdict.problems, [
      { code: 'not-a-vote', message: 'not a vote: it needs "node_pubkey", "signature" and "vote"' },
    ]);
    assert.equal(verdict.vote, undefined);
    assert.equal(verdict.sound, false);
    const exact = verifyStoredVote({ ...VOTE, seq: 3 }, TARGET, { exact: true });
    assert.deepEqual(exact.problems, [
      { code: 'not-a-vote', message: 'not a vote: it needs exactly "node_pubkey", "signature" and "vote"' },
    ]);
    assert.deepEqual(codes(verifyStoredVote(undefined, TARGET)), ['not-a-vote']);
  });

  it('other-block: a vote checked against another block than the one it names', () => {
    const voteOnOther = createVote(VOTER, OTHER_BLOCK.id, BLOCK.id, true, null, '1472731235');
    const verdict = verifyStoredVote(voteOnOther, TARGET);
    assert.deepEqual(verdict.problems, [
      {
        code: 'other-block',
        message: `the vote is on block ${OTHER_BLOCK.id}, not on block ${BLOCK.id}`,
        votingFor: OTHER_BLOCK.id,
      },
    ]);
    assert.deepEqual(codes(verifyStoredVote(voteOnOther, { ...TARGET, id: OTHER_BLOCK.id })), []);
  });

  it('not-a-voter: a correctly signed vote by a key the block does not list', () => {
    const outsiders = createVote(OUTSIDER, BLOCK.id, OTHER_BLOCK.id, true, null, '1472731235');
    assert.deepEqual(verifyStoredVote(outsiders, TARGET).problems, [
      {
        code: 'not-a-voter',
        message: `${OUTSIDER.publicKey} is not one of the block's voters`,
        voter: OUTSIDER.publicKey,
      },
    ]);
    const onlyCreator = { id: BLOCK.id, voters: [CREATOR.publicKey] };
    assert.deepEqual(codes(verifyStoredVote(VOTE, onlyCreator)), ['not-a-voter']);
  });

  it('not-a-voter: a node_pubkey that is not a string (loose shape)', () => {
    const verdict = verifyStoredVote(
      editedVote((v) => ((v as { node_pubkey: unknown }).node_pubkey = 42)),
      TARGET,
    );
    assert.deepEqual(verdict.problems, [
      { code: 'not-a-voter', message: "42 is not one of the block's voters", voter: 42 },
    ]);
  });

  it('signature: an edited vote body, another vote’s signature, or a vote signed by another key', () => {
    const flipped = editedVote((v) => (v.vote.is_block_valid = false));
    assert.equal(verifyStoredVote(flipped, TARGET).sound, false);
    assert.deepEqual(verifyStoredVote(flipped, TARGET).problems, [
      {
        code: 'signature',
        message: `the vote by ${VOTER.publicKey} does not verify: it was changed after it was signed`,
        voter: VOTER.publicKey,
      },
    ]);
    const creators = createVote(CREATOR, BLOCK.id, OTHER_BLOCK.id, true, null, '1472731235');
    const swapped = editedVote((v) => (v.signature = creators.signature));
    assert.deepEqual(codes(verifyStoredVote(swapped, TARGET, { exact: true })), ['signature']);
    const renamed = { ...creators, node_pubkey: VOTER.publicKey };
    assert.deepEqual(codes(verifyStoredVote(renamed, TARGET)), ['signature']);
    const extraField = editedVote((v) => ((v.vote as unknown as Record<string, unknown>).extra = 1));
    assert.deepEqual(codes(verifyStoredVote(extraField, TARGET)), ['signature']);
  });

  it('a vote moved to another block: other-block, and its signature (of its own body) still verifies', () => {
    const verdict = verifyStoredVote(VOTE, { id: OTHER_BLOCK.id, voters: FEDERATION });
    assert.deepEqual(codes(verdict), ['other-block']);
    const moved = verifyStoredVote(
      editedVote((v) => (v.vote.voting_for_block = OTHER_BLOCK.id)),
      { id: OTHER_BLOCK.id, voters: FEDERATION },
    );
    assert.deepEqual(codes(moved), ['signature'], 'an edited voting_for_block breaks the signature');
  });

  it('other-block comes before not-a-voter', () => {
    const outsiders = createVote(OUTSIDER, OTHER_BLOCK.id, BLOCK.id, true, null, '1472731235');
    assert.deepEqual(codes(verifyStoredVote(outsiders, TARGET)), ['other-block', 'not-a-voter']);
  });
});
