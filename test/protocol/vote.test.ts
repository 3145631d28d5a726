import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createBlock, type Block } from '../../src/protocol/block.ts';
import { generateKeyPair, signToBase58, timestamp } from '../../src/protocol/crypto.ts';
import { BigchainDBError } from '../../src/protocol/errors.ts';
import { jsonClone, serialize } from '../../src/protocol/json.ts';
import {
  createVote,
  CyclicBlockchainError,
  ImproperVoteError,
  MultipleVotesError,
  verifyVoteSignature,
  type Vote,
} from '../../src/protocol/vote.ts';
import { PLACEHOLDER_TX } from '../support/fixtures.ts';

// conftest CONFIG keypair (behaviour §12.1)
const NODE = {
  privateKey: '31Lb1ZGKTyHnmVK3LUMrAUrPNfd4sE2YyBt3UA4A25aA',
  publicKey: '4XYfCbabAWVUCbjTmRTFEu2sc3dFEdkse4r6X498B1s8',
};
const OTHER_VOTER = generateKeyPair();
const OUTSIDER = generateKeyPair();

const TX = PLACEHOLDER_TX;
const BLOCK: Block = createBlock([TX], NODE, [OTHER_VOTER.publicKey, NODE.publicKey], '1472731230');
const PREVIOUS = 'b'.repeat(64);

function vote(): Vote {
  return createVote(NODE, BLOCK.id, PREVIOUS, true, null, '1472731235');
}

function tampered(change: (vote: Vote) => void): Vote {
  const copy = jsonClone(vote());
  change(copy);
  return copy;
}

describe('createVote', () => {
  it('is {node_pubkey, signature, vote} with exactly the five 0.6 body fields', () => {
    const v = vote();
    assert.deepEqual(Object.keys(v).sort(), ['node_pubkey', 'signature', 'vote']);
    assert.deepEqual(v.vote, {
      voting_for_block: BLOCK.id,
      previous_block: PREVIOUS,
      is_block_valid: true,
      invalid_reason: null,
      timestamp: '1472731235',
    });
    assert.equal(v.node_pubkey, NODE.publicKey);
    assert.equal(verifyVoteSignature(BLOCK, v), true);
  });

  it('defaults to no reason and the current time', () => {
    const before = Number(timestamp());
    const v = createVote(NODE, BLOCK.id, PREVIOUS, false);
    assert.equal(v.vote.invalid_reason, null);
    assert.equal(v.vote.is_block_valid, false);
    const stamped = Number(v.vote.timestamp);
    assert.ok(stamped >= before && stamped <= before + 1);
    assert.equal(verifyVoteSignature(BLOCK, v), true);
  });

  it('signs a vote with a reason', () => {
    const v = createVote(NODE, BLOCK.id, PREVIOUS, false, 'DOUBLE_SPEND');
    assert.equal(v.vote.invalid_reason, 'DOUBLE_SPEND');
    assert.equal(verifyVoteSignature(BLOCK, v), true);
  });

  it('refuses a block as its own previous block', () => {
    assert.throws(() => createVote(NODE, BLOCK.id, BLOCK.id, true), CyclicBlockchainError);
    assert.throws(() => createVote(NODE, BLOCK.id, BLOCK.id, true), BigchainDBError);
  });

  it('reproduces the behaviour §1.7 vote signature', () => {
    // The vote body holds only strings, a boolean and null, so the signed bytes do not depend on the hash
    // function; Ed25519 is deterministic, so the 0.6 signature must come out unchanged.
    const v = createVote(
      NODE,
      'd72e076daad1c06a56696d998be92499f353b48e811cf616da6b8f24708347f4',
      'e'.repeat(64),
      true,
      null,
      '1472731235',
    );
    assert.equal(
      serialize(v.vote),
      `{"invalid_reason":null,"is_block_valid":true,"previous_block":"${'e'.repeat(64)}","timestamp":"1472731235",` +
        '"voting_for_block":"d72e076daad1c06a56696d998be92499f353b48e811cf616da6b8f24708347f4"}',
    );
    assert.equal(
      v.signature,
      '4uBWtWRyTHk6GM1dMFMF5yjMbQupWSy2a52Fd8hZxGG6opJaEddrGhjpsy1EmE8DCYhLToiKbdG8GH53JjSC1K6B',
    );
  });
});

describe('verifyVoteSignature', () => {
  const tamperings: Record<string, (vote: Vote) => void> = {
    voting_for_block: (v) => (v.vote.voting_for_block = 'c'.repeat(64)),
    previous_block: (v) => (v.vote.previous_block = 'c'.repeat(64)),
    is_block_valid: (v) => (v.vote.is_block_valid = false),
    invalid_reason: (v) => (v.vote.invalid_reason = 'DOUBLE_SPEND'),
    timestamp: (v) => (v.vote.timestamp = '1472731236'),
    'node_pubkey (to another voter)': (v) => (v.node_pubkey = OTHER_VOTER.publicKey),
    signature: (v) => (v.signature = signToBase58(serialize(v.vote), OTHER_VOTER.privateKey)),
  };
  for (const [what, change] of Object.entries(tamperings)) {
    it(`detects tampering with ${what}`, () => {
      assert.equal(verifyVoteSignature(BLOCK, tampered(change)), false);
    });
  }

  it('rejects a correctly signed vote from a node that is not a voter of the block', () => {
    const v = createVote(OUTSIDER, BLOCK.id, PREVIOUS, true);
    assert.equal(verifyVoteSignature(createBlock([TX], OUTSIDER, [OUTSIDER.publicKey]), v), true);
    assert.equal(verifyVoteSignature(BLOCK, v), false);
  });

  it('rejects a correctly signed body with an extra field', () => {
    const body = { ...vote().vote, extra: 1 };
    const v = {
      node_pubkey: NODE.publicKey,
      signature: signToBase58(serialize(body), NODE.privateKey),
      vote: body,
    };
    assert.equal(verifyVoteSignature(BLOCK, v), false);
  });

  it('accepts extra fields on the envelope, such as a storage id', () => {
    assert.equal(verifyVoteSignature(BLOCK, { ...vote(), id: 'row-1' } as Vote), true);
  });

  const malformed: Record<string, unknown> = {
    null: null,
    'a string': 'vote',
    'an empty object': {},
    'no body': { node_pubkey: NODE.publicKey, signature: vote().signature },
    'a string is_block_valid': tampered((v) => Object.assign(v.vote, { is_block_valid: 'true' })),
    'a numeric invalid_reason': tampered((v) => Object.assign(v.vote, { invalid_reason: 0 })),
    'a missing timestamp': tampered((v) => Reflect.deleteProperty(v.vote, 'timestamp')),
    'a numeric signature': tampered((v) => Object.assign(v, { signature: 7 })),
    'a garbage signature': tampered((v) => (v.signature = '0OIl')),
    'a numeric node_pubkey': tampered((v) => Object.assign(v, { node_pubkey: 7 })),
    'a lone surrogate': tampered((v) => (v.vote.previous_block = '\ud800')),
  };
  for (const [what, candidate] of Object.entries(malformed)) {
    it(`answers false for a vote with ${what}`, () => {
      assert.equal(verifyVoteSignature(BLOCK, candidate as Vote), false);
    });
  }

  it('never throws, whatever the vote or block', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (candidateVote, candidateBlock) => {
        assert.equal(verifyVoteSignature(BLOCK, candidateVote as Vote), false);
        assert.equal(verifyVoteSignature(candidateBlock as Block, vote()), false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('vote errors carry the 0.6 messages', () => {
  it('MultipleVotesError', () => {
    const byThisNode = MultipleVotesError.byThisNode('B', 2, 'K');
    assert.ok(byThisNode instanceof MultipleVotesError && byThisNode instanceof BigchainDBError);
    assert.equal(byThisNode.message, 'Block B has 2 votes from public key K');
    assert.equal(
      MultipleVotesError.byVoter('B', 3, 'N').message,
      'Block B has multiple votes (3) from voting node N',
    );
    assert.equal(
      MultipleVotesError.moreThanVoters('B', 5, 4).message,
      'Block B has 5 votes cast, but only 4 voters',
    );
  });

  it('ImproperVoteError', () => {
    const error = ImproperVoteError.forBlock('B', 'K');
    assert.ok(error instanceof ImproperVoteError);
    assert.equal(error.name, 'ImproperVoteError');
    assert.equal(error.message, 'Block B already has an incorrectly signed vote from public key K');
    assert.deepEqual(error.details, { blockId: 'B', publicKey: 'K' });
  });
});
