import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { base58Encode } from '../../src/protocol/base58.ts';
import { fromHex, toHex } from '../../src/protocol/bytes.ts';
import {
  generateKeyPair,
  hashData,
  isBase58Key,
  publicKeyBytes,
  publicKeyFromPrivate,
  sha256,
  sha3Hex,
  signMessage,
  signToBase58,
  timestamp,
  verifyBase58,
  verifyMessage,
} from '../../src/protocol/crypto.ts';
import { EncodingError } from '../../src/protocol/errors.ts';

// behaviour §12.1: the conftest node and user keypairs and test_wrong_signature's key
const KEYPAIRS: [string, string][] = [
  ['31Lb1ZGKTyHnmVK3LUMrAUrPNfd4sE2YyBt3UA4A25aA', '4XYfCbabAWVUCbjTmRTFEu2sc3dFEdkse4r6X498B1s8'],
  ['8eJ8q9ZQpReWyQT5aFCiwtZ5wDZC4eDnCen88p3tQ6ie', 'JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE'],
  ['4fyvJe1aw2qHZ4UNRYftXK7JU7zy9bCqoU5ps6Ne3xrY', 'CvxF2YWG9wSJZ1PHKJNJ9y5zxsMp3N1YQjn8b3Zetcbp'],
];
const [NODE_PRIVATE, NODE_PUBLIC] = KEYPAIRS[0]!;
const [, USER_PUBLIC] = KEYPAIRS[1]!;

describe('hashes', () => {
  it('hashData is FIPS 202 SHA3-256 (PROTOCOL R3), not the Keccak-256 of 0.6', () => {
    // behaviour §0: sha3_256('字') under pysha3 1.0 (FIPS) vs 0.3 (Keccak)
    assert.equal(hashData('字'), '2b38731ba4ef72d4034bef49e87c381d1fbe75435163b391dd33249331f91fe7');
    assert.notEqual(hashData('字'), 'c67820de36d949a35ca24492e15767e2972b22f77213f6704ac0adec123c5690');
    assert.equal(hashData(''), 'a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a');
    assert.equal(hashData('abc'), '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532');
  });

  it('sha3Hex hashes text as UTF-8, the same as its bytes', () => {
    assert.equal(sha3Hex(new TextEncoder().encode('字')), hashData('字'));
  });

  it('sha256 is plain SHA-256', () => {
    assert.equal(toHex(sha256('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('keys', () => {
  for (const [privateKey, publicKey] of KEYPAIRS) {
    it(`derives ${publicKey} from ${privateKey}`, () => {
      assert.equal(publicKeyFromPrivate(privateKey), publicKey);
    });
  }

  it('derives RFC 8032 test 1 public key from raw seed bytes', () => {
    const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    assert.equal(
      toHex(publicKeyBytes(seed)),
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    );
  });

  it('generates distinct, consistent key pairs', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    assert.notEqual(a.privateKey, b.privateKey);
    assert.equal(publicKeyFromPrivate(a.privateKey), a.publicKey);
    assert.ok(isBase58Key(a.publicKey) && isBase58Key(a.privateKey));
  });

  it('isBase58Key accepts exactly base58 encodings of 32 bytes', () => {
    assert.equal(isBase58Key(NODE_PUBLIC), true);
    assert.equal(isBase58Key('1'.repeat(32)), true);
    for (const bad of [base58Encode(new Uint8Array(31).fill(9)), base58Encode(new Uint8Array(33).fill(9))]) {
      assert.equal(isBase58Key(bad), false, bad);
    }
    for (const bad of ['', '0'.repeat(44), `${NODE_PUBLIC.slice(0, -1)}0`, 42, null, undefined]) {
      assert.equal(isBase58Key(bad), false, String(bad));
    }
  });

  it('refuses to sign with a malformed private key', () => {
    assert.throws(() => signToBase58('m', 'abc'), EncodingError);
    assert.throws(() => signToBase58('m', '0OIl'), EncodingError);
    assert.throws(() => signMessage('m', new Uint8Array(31)), EncodingError);
  });
});

describe('Ed25519 signatures', () => {
  it('reproduces the RFC 8032 test vectors 1 and 2', () => {
    const vectors = [
      {
        seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
        publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
        message: '',
        signature:
          'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      },
      {
        seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
        publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
        message: '72',
        signature:
          '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
      },
    ];
    for (const vector of vectors) {
      const signature = signMessage(fromHex(vector.message), fromHex(vector.seed));
      assert.equal(toHex(signature), vector.signature);
      assert.equal(verifyMessage(fromHex(vector.message), signature, fromHex(vector.publicKey)), true);
    }
  });

  it('round-trips any text, non-ASCII included, and rejects another message or key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (message, other) => {
        const signature = signToBase58(message, NODE_PRIVATE);
        assert.equal(verifyBase58(message, signature, NODE_PUBLIC), true);
        assert.equal(verifyBase58(message, signature, USER_PUBLIC), false);
        if (other !== message) assert.equal(verifyBase58(other, signature, NODE_PUBLIC), false);
      }),
      { numRuns: 200 },
    );
  });

  it('signs text as its UTF-8 bytes (PROTOCOL R1)', () => {
    const text = 'Grüße 字 😀';
    assert.deepEqual(
      signMessage(text, NODE_PRIVATE),
      signMessage(new TextEncoder().encode(text), NODE_PRIVATE),
    );
  });

  it('answers false, never throws, for malformed signatures and keys', () => {
    const message = 'message';
    const good = signMessage(message, NODE_PRIVATE);
    for (const length of [0, 1, 63, 65, 128]) {
      assert.equal(verifyMessage(message, new Uint8Array(length), NODE_PUBLIC), false, `length ${length}`);
    }
    const badKeys: unknown[] = [
      '',
      'abc',
      '0OIl',
      base58Encode(new Uint8Array(31).fill(7)),
      base58Encode(new Uint8Array(33).fill(7)),
      base58Encode(new Uint8Array(32).fill(0xff)),
      new Uint8Array(5),
      null,
      undefined,
      42,
      {},
    ];
    for (const key of badKeys) {
      assert.equal(verifyMessage(message, good, key as string), false, String(key));
      assert.equal(verifyBase58(message, base58Encode(good), key as string), false, String(key));
    }
    for (const signature of ['', '0OIl', 'é', base58Encode(good.subarray(1)), base58Encode(good) + '2']) {
      assert.equal(verifyBase58(message, signature, NODE_PUBLIC), false, signature);
    }
    assert.equal(verifyBase58(message, 42 as unknown as string, NODE_PUBLIC), false);
  });

  it('answers false, never throws, for arbitrary text as signature and key', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (signature, key) => {
        assert.equal(verifyBase58('message', signature, key), false);
      }),
    );
  });
});

describe('timestamp', () => {
  it("rounds half to even like Python's round()", () => {
    const cases: [number, string][] = [
      [0, '0'],
      [499, '0'],
      [500, '0'],
      [501, '1'],
      [1499, '1'],
      [1500, '2'],
      [2500, '2'],
      [3500, '4'],
      [1472731200500, '1472731200'],
      [1472731201500, '1472731202'],
      [-500, '0'],
      [-1500, '-2'],
      [-2500, '-2'],
      [-3500, '-4'],
    ];
    for (const [ms, expected] of cases) assert.equal(timestamp(ms), expected, `${ms} ms`);
  });

  it('matches round-half-even computed in exact integer arithmetic', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 41), max: 2 ** 41 }), (ms) => {
        const remainder = ((ms % 1000) + 1000) % 1000;
        const seconds = (ms - remainder) / 1000;
        const roundUp = remainder > 500 || (remainder === 500 && Math.abs(seconds % 2) === 1);
        assert.equal(timestamp(ms), String(roundUp ? seconds + 1 : seconds));
      }),
    );
  });

  it('defaults to now, in whole seconds', () => {
    const now = timestamp();
    assert.match(now, /^\d+$/);
    assert.ok(Math.abs(Number(now) - Date.now() / 1000) <= 1);
  });
});
