import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  blockHashIsValid,
  blockId,
  blockSignatureIsValid,
  checkBlock,
  createBlock,
  isGenesisBlock,
  serializeWithTransactions,
  type Block,
} from '../../src/protocol/block.ts';
import {
  generateKeyPair,
  hashData,
  signToBase58,
  timestamp,
  verifyBase58,
} from '../../src/protocol/crypto.ts';
import { BigchainDBError } from '../../src/protocol/errors.ts';
import { jsonClone, serialize } from '../../src/protocol/json.ts';
import type { Transaction } from '../../src/protocol/transaction.ts';
import {
  InvalidHash,
  InvalidSignature,
  OperationError,
  SchemaError,
  ValidationError,
} from '../../src/protocol/validation-errors.ts';

// conftest CONFIG keypair (behaviour §12.1)
const NODE = {
  privateKey: '31Lb1ZGKTyHnmVK3LUMrAUrPNfd4sE2YyBt3UA4A25aA',
  publicKey: '4XYfCbabAWVUCbjTmRTFEu2sc3dFEdkse4r6X498B1s8',
};
const USER_PUBLIC_KEY = 'JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE';
const OTHER_NODE = generateKeyPair();
const OUTSIDER = generateKeyPair();

/** Transaction A of behaviour §1.7, signed; its id is the 0.6 (Keccak-256) id, as printed. */
const TX_A: Transaction = {
  id: '37283d71feb44ad013259d71c007aaf3889c77cc4a07671bb3c609d8e83465c4',
  transaction: {
    conditions: [
      {
        cid: 0,
        condition: {
          details: {
            bitmask: 32,
            public_key: USER_PUBLIC_KEY,
            signature: null,
            type: 'fulfillment',
            type_id: 4,
          },
          uri: 'cc:4:20:__Y_Um6H73iwPe6ejWXEw930SQhqVGjtAHTXilPp0P0:96',
        },
        owners_after: [USER_PUBLIC_KEY],
      },
    ],
    data: { payload: { msg: 'Hello BigchainDB!' }, uuid: '1ed2c8ad-7b3c-4a0e-9d51-2f0b8a6c4e11' },
    fulfillments: [
      {
        fid: 0,
        fulfillment:
          'cf:4:NGZIFL8M9mqsetkwkes0EZyGubeGefYlEkMMRTnpWhurcZgyQzWZNSR87nB5DtT0S2sbhwvY3ZllAodXkxQK50LBq0Cpj0LM-msQhyTduAFykyhUWPMS3PW4cz12qQAK',
        input: null,
        owners_before: [NODE.publicKey],
      },
    ],
    operation: 'CREATE',
    timestamp: '1472731200',
    version: 1,
  },
};

const FEDERATION = [OTHER_NODE.publicKey, NODE.publicKey];

function makeBlock(): Block {
  return createBlock([TX_A], NODE, FEDERATION, '1472731230');
}

/** A deep copy to tamper with; the fixture itself stays intact. */
function tampered(change: (block: Block) => void): Block {
  const copy = jsonClone(makeBlock());
  change(copy);
  return copy;
}

function withRecomputedId(block: Block): Block {
  return { ...block, id: blockId(block.block) };
}

describe('createBlock', () => {
  it('builds {id, block, signature} over {timestamp, transactions, node_pubkey, voters}', () => {
    const block = makeBlock();
    assert.deepEqual(Object.keys(block).sort(), ['block', 'id', 'signature']);
    assert.deepEqual(block.block, {
      timestamp: '1472731230',
      transactions: [TX_A],
      node_pubkey: NODE.publicKey,
      voters: FEDERATION,
    });
    assert.equal(block.id, hashData(serialize(block.block)));
    assert.match(block.id, /^[0-9a-f]{64}$/);
    assert.ok(verifyBase58(serialize(block.block), block.signature, NODE.publicKey));
  });

  it('stamps the current time when none is given', () => {
    const before = Number(timestamp());
    const stamped = Number(createBlock([TX_A], NODE, FEDERATION).block.timestamp);
    assert.ok(stamped >= before && stamped <= before + 1, `${stamped} vs ${before}`);
  });

  it('refuses an empty block', () => {
    assert.throws(() => createBlock([], NODE, FEDERATION), {
      name: 'OperationError',
      message: 'Empty block creation is not allowed',
    });
    assert.throws(() => createBlock([], NODE, FEDERATION), OperationError);
  });

  it('copies the caller arrays, so later changes to them do not break the block', () => {
    const transactions = [TX_A];
    const voters = [...FEDERATION];
    const block = createBlock(transactions, NODE, voters, '1472731230');
    transactions.push(TX_A);
    voters.push(OUTSIDER.publicKey);
    assert.equal(checkBlock(block, FEDERATION), block);
  });

  it('signs non-ASCII content as UTF-8 (PROTOCOL R1)', () => {
    const tx = jsonClone(TX_A);
    tx.transaction.data.payload = { msg: 'Grüße, 字, 😀' };
    const block = createBlock([tx], NODE, FEDERATION, '1472731230');
    assert.equal(checkBlock(block, FEDERATION), block);
  });

  it("given the transactions' texts, makes the block it makes without them", () => {
    const txs = [TX_A, jsonClone(TX_A)];
    txs[1]!.transaction.data.payload = { msg: 'Grüße, 字, 😀' };
    const withTexts = createBlock(txs, NODE, FEDERATION, '1472731230', txs.map(serialize));
    assert.deepEqual(withTexts, createBlock(txs, NODE, FEDERATION, '1472731230'));
    assert.equal(checkBlock(withTexts, FEDERATION), withTexts);
  });
});

describe('serializeWithTransactions', () => {
  it('is serialize of a block or a body, for any transactions, voters and keys', () => {
    const text = fc.string({ unit: 'binary' }).filter((s) => !/[\u0000\uD800-\uDFFF]/.test(s));
    // Strings that look like the list it looks for, or like its end, must not confuse it.
    const tricky = fc.oneof(text, fc.constantFrom('"transactions":[]', '\\"transactions":[]', '],"', '\\'));
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(tricky, tricky), { maxLength: 4 }),
        fc.array(tricky, { maxLength: 3 }),
        tricky,
        tricky,
        (transactions, voters, node, stamp) => {
          const body = {
            node_pubkey: node,
            timestamp: stamp,
            transactions: transactions as unknown as Transaction[],
            voters,
          };
          const texts = transactions.map(serialize);
          assert.equal(serializeWithTransactions(body, texts), serialize(body));
          const block: Block = { id: stamp, block: body, signature: node };
          assert.equal(serializeWithTransactions(block, texts), serialize(block));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('behaviour §1.7 block vector', () => {
  const block = createBlock([TX_A], NODE, [NODE.publicKey], '1472731230');

  it('reproduces the printed 0.6 block signature', () => {
    // Ed25519 is deterministic and the signed bytes are the serialized body, which embeds A's printed
    // (Keccak) id as data: the same bytes as 0.6, so the same signature.
    assert.equal(
      block.signature,
      '4dGYfUw9LRNyzAirmxi4bjs2JDin9wsqwLQdmj8F6QS7Q5b4yDTgu27NQQZpjtkCRpVUJkJTjmmrxSZ2p42wdyUr',
    );
    assert.ok(
      serialize(block.block).startsWith(`{"node_pubkey":"${NODE.publicKey}","timestamp":"1472731230",`),
    );
  });

  it('gets a different id from the printed Keccak-256 one (PROTOCOL R3)', () => {
    // 0.6 pinned pysha3 0.3, i.e. pre-standard Keccak-256; this project hashes with FIPS 202 SHA3-256,
    // so the same bytes give another id. The value below is our own FIPS result, pinned against regressions.
    assert.notEqual(block.id, 'd72e076daad1c06a56696d998be92499f353b48e811cf616da6b8f24708347f4');
    assert.equal(block.id, '3a23183544f73d7db9da581f1d5512e33aa2e8a1616369e4b0d93f00025b3568');
    assert.equal(checkBlock(block, [NODE.publicKey]), block);
  });
});

describe('checkBlock', () => {
  it('accepts a well-formed block by a federation node and returns it', () => {
    const block = makeBlock();
    assert.equal(checkBlock(block, FEDERATION), block);
    assert.ok(blockHashIsValid(block));
    assert.ok(blockSignatureIsValid(block));
  });

  it('throws InvalidHash naming the block id and the computed hash', () => {
    const block = tampered((b) => (b.id = 'f'.repeat(64)));
    const computed = blockId(block.block);
    assert.throws(
      () => checkBlock(block, FEDERATION),
      (error: unknown) =>
        error instanceof InvalidHash &&
        error.message === `Block ${'f'.repeat(64)} has an invalid hash: its body hashes to ${computed}` &&
        error.details.blockId === block.id &&
        error.details.computedHash === computed,
    );
  });

  it('throws OperationError for a creator outside the federation', () => {
    const block = createBlock([TX_A], OUTSIDER, FEDERATION, '1472731230');
    assert.throws(() => checkBlock(block, FEDERATION), {
      name: 'OperationError',
      message: 'Only federation nodes can create blocks',
    });
  });

  it('throws InvalidSignature for a signature that does not verify', () => {
    const signedByOther = tampered(
      (b) => (b.signature = signToBase58(serialize(b.block), OTHER_NODE.privateKey)),
    );
    const garbage = tampered((b) => (b.signature = '0OIl'));
    const empty = tampered((b) => (b.signature = ''));
    for (const block of [signedByOther, garbage, empty]) {
      assert.throws(() => checkBlock(block, FEDERATION), {
        name: 'InvalidSignature',
        message: 'Invalid block signature',
      });
      assert.equal(blockSignatureIsValid(block), false);
    }
  });

  it('checks in 0.6 order: hash, then creator, then signature', () => {
    const outsiderBadHash = { ...createBlock([TX_A], OUTSIDER, FEDERATION, '1'), id: 'x' };
    assert.throws(() => checkBlock(outsiderBadHash, FEDERATION), InvalidHash);
    const outsiderBadSignature = { ...createBlock([TX_A], OUTSIDER, FEDERATION, '1'), signature: 'x' };
    assert.throws(() => checkBlock(outsiderBadSignature, FEDERATION), OperationError);
  });

  const bodyTampering: Record<string, (block: Block) => void> = {
    timestamp: (b) => (b.block.timestamp = '1472731231'),
    'a transaction payload': (b) => (b.block.transactions[0]!.transaction.data.payload = { msg: 'Hello!' }),
    'a transaction id': (b) => (b.block.transactions[0]!.id = 'e'.repeat(64)),
    'an added transaction': (b) => b.block.transactions.push(TX_A),
    'node_pubkey (to another federation node)': (b) => (b.block.node_pubkey = OTHER_NODE.publicKey),
    'an added voter': (b) => b.block.voters.push(OUTSIDER.publicKey),
    'a removed voter': (b) => b.block.voters.pop(),
    'the voter order': (b) => b.block.voters.reverse(),
    'an extra body field': (b) => Object.assign(b.block, { note: 'x' }),
  };
  for (const [what, change] of Object.entries(bodyTampering)) {
    it(`detects tampering with ${what}`, () => {
      const block = tampered(change);
      assert.throws(() => checkBlock(block, FEDERATION), InvalidHash);
      assert.equal(blockHashIsValid(block), false);
      assert.equal(blockSignatureIsValid(block), false);
      // Recomputing the id is not enough: the creator's signature covers the body.
      assert.throws(() => checkBlock(withRecomputedId(block), FEDERATION), InvalidSignature);
    });
  }

  it('detects a tampered signature', () => {
    const block = tampered((b) => {
      const last = b.signature.at(-1) === '2' ? '3' : '2';
      b.signature = b.signature.slice(0, -1) + last;
    });
    assert.equal(blockHashIsValid(block), true);
    assert.throws(() => checkBlock(block, FEDERATION), InvalidSignature);
  });

  const malformed: Record<string, unknown> = {
    null: null,
    'a number': 42,
    'a string': 'block',
    'an array': [makeBlock()],
    'no id': { block: makeBlock().block, signature: makeBlock().signature },
    'a numeric id': { ...makeBlock(), id: 1 },
    'no signature': { id: makeBlock().id, block: makeBlock().block },
    'a null body': { ...makeBlock(), block: null },
    'an array body': { ...makeBlock(), block: [] },
    'a numeric timestamp': tampered((b) => Object.assign(b.block, { timestamp: 1472731230 })),
    'no node_pubkey': tampered((b) => Reflect.deleteProperty(b.block, 'node_pubkey')),
    'transactions that are not an array': tampered((b) => Object.assign(b.block, { transactions: {} })),
    'a null transaction': tampered((b) => Object.assign(b.block, { transactions: [null] })),
    'a numeric voter': tampered((b) => Object.assign(b.block, { voters: [1] })),
    'voters that are not an array': tampered((b) => Object.assign(b.block, { voters: NODE.publicKey })),
    'a NaN in a transaction': tampered((b) => Object.assign(b.block.transactions[0]!, { extra: NaN })),
    'an unsafe integer in a transaction': tampered((b) =>
      Object.assign(b.block.transactions[0]!, { extra: 2 ** 53 }),
    ),
  };
  for (const [what, block] of Object.entries(malformed)) {
    it(`throws SchemaError for a block with ${what}`, () => {
      assert.throws(() => checkBlock(block, FEDERATION), SchemaError);
    });
  }

  it('names the malformed field', () => {
    assert.throws(() => checkBlock(malformed['a numeric voter'], FEDERATION), {
      message: 'block.block.voters must be an array of strings',
    });
  });

  it('throws nothing but validation errors, whatever it is given', () => {
    const valid = makeBlock();
    const mutation = fc.oneof(
      fc.anything(),
      fc.record({ id: fc.anything(), block: fc.constant(valid.block), signature: fc.anything() }),
      fc.record({
        id: fc.constant(valid.id),
        signature: fc.constant(valid.signature),
        block: fc.record({
          timestamp: fc.oneof(fc.constant(valid.block.timestamp), fc.anything()),
          transactions: fc.oneof(fc.constant(valid.block.transactions), fc.array(fc.anything())),
          node_pubkey: fc.oneof(fc.constant(NODE.publicKey), fc.string()),
          voters: fc.oneof(fc.constant(valid.block.voters), fc.anything()),
        }),
      }),
    );
    fc.assert(
      fc.property(mutation, (candidate) => {
        try {
          checkBlock(candidate, FEDERATION);
          return serialize(candidate) === serialize(valid); // only the untouched block may pass
        } catch (error) {
          return error instanceof ValidationError && error instanceof BigchainDBError;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('blockHashIsValid and blockSignatureIsValid answer false rather than throw for unserializable bodies', () => {
    const block = tampered((b) => Object.assign(b.block, { timestamp: Number.NaN }));
    assert.equal(blockHashIsValid(block), false);
    assert.equal(blockSignatureIsValid(block), false);
  });
});

describe('isGenesisBlock', () => {
  it('is true only when the first transaction is a GENESIS', () => {
    const genesisTx = jsonClone(TX_A);
    genesisTx.transaction.operation = 'GENESIS';
    assert.equal(isGenesisBlock(createBlock([genesisTx], NODE, FEDERATION)), true);
    assert.equal(isGenesisBlock(makeBlock()), false);
    assert.equal(isGenesisBlock(createBlock([TX_A, genesisTx], NODE, FEDERATION)), false);
    assert.equal(isGenesisBlock(tampered((b) => (b.block.transactions = []))), false);
  });
});
