import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { base58Encode } from '../../src/protocol/base58.ts';
import { fromHex, toHex } from '../../src/protocol/bytes.ts';
import { Ed25519Fulfillment, Fulfillment, ThresholdSha256Fulfillment } from '../../src/protocol/cc/index.ts';
import * as nodeCrypto from '../../src/protocol/crypto-node.ts';
import * as nobleCrypto from '../../src/protocol/crypto-noble.ts';
import { vectors, type Spec } from './cc/helpers.ts';

/**
 * `#crypto` is node:crypto (crypto-node.ts) on Node and @noble (crypto-noble.ts) in browser bundles. Both must
 * give the same bytes for every published vector and any input, or a browser client would build transactions
 * a node refuses.
 */
const BACKENDS = { node: nodeCrypto, noble: nobleCrypto } as const;
type Backend = typeof nodeCrypto;
const ROOT = new URL('../..', import.meta.url).pathname;

/** Both backends' answers, checked equal; returns the common one. */
function same<T>(what: string, run: (backend: Backend) => T): T {
  const fromNode = run(BACKENDS.node);
  const fromNoble = run(BACKENDS.noble);
  assert.deepEqual(fromNoble, fromNode, `${what}: noble differs from node:crypto`);
  return fromNode;
}

function ed25519Leaves(spec: Spec | undefined): { privateKeyHex: string; message: string }[] {
  if (!spec) return [];
  switch (spec.type) {
    case 'ed25519':
      return 'private_key_hex' in spec
        ? [{ privateKeyHex: spec.private_key_hex, message: spec.message_utf8 }]
        : [];
    case 'threshold':
    case 'inverted-threshold':
      return spec.subs.flatMap(ed25519Leaves);
    case 'condition_of':
      return ed25519Leaves(spec.spec);
    case 'prefix':
      return ed25519Leaves(spec.sub);
    default:
      return [];
  }
}

function signedLeaves(fulfillment: Fulfillment): Ed25519Fulfillment[] {
  if (fulfillment instanceof Ed25519Fulfillment) return fulfillment.signature ? [fulfillment] : [];
  if (fulfillment instanceof ThresholdSha256Fulfillment)
    return fulfillment.subconditions.flatMap((entry) =>
      entry.body instanceof Fulfillment ? signedLeaves(entry.body) : [],
    );
  return [];
}

describe('the published vectors through both crypto backends', () => {
  for (const [index, vector] of vectors.entries()) {
    const leaves = ed25519Leaves(vector.inputs?.spec);
    const preimageHex =
      vector.inputs?.spec?.type === 'preimage' ? vector.inputs.spec.preimage_hex : undefined;
    const signer = vector.signer_public_key_b58;
    if (leaves.length === 0 && preimageHex === undefined && !signer) continue;

    it(`vector ${index} (${vector.kind}, ${vector.name ?? vector.source})`, () => {
      for (const { privateKeyHex, message } of leaves) {
        const seed = fromHex(privateKeyHex);
        const publicKey = same('publicKeyBytes', (b) => toHex(b.publicKeyBytes(seed)));
        const signature = same('signMessage', (b) => toHex(b.signMessage(message, seed)));
        same('signMessage (base58 key)', (b) => toHex(b.signMessage(message, base58Encode(seed))));
        assert.equal(
          same('verifyMessage', (b) => b.verifyMessage(message, fromHex(signature), fromHex(publicKey))),
          true,
        );
        // A plain Ed25519 vector's fulfillment payload is exactly this key and signature.
        if (vector.inputs?.spec?.type === 'ed25519')
          assert.equal(vector.outputs?.fulfillment_payload_hex, publicKey + signature);
      }
      if (preimageHex !== undefined && vector.outputs) {
        const fingerprint = same('sha256', (b) => toHex(b.sha256(fromHex(preimageHex))));
        assert.equal(fingerprint, vector.outputs.fingerprint_hex);
      }
      if (signer && vector.fulfillment_uri) {
        const message = vector.signed_message_utf8;
        for (const leaf of signedLeaves(Fulfillment.fromUri(vector.fulfillment_uri))) {
          const verified = same('verifyMessage', (b) =>
            b.verifyMessage(message ?? 'not the signed message', leaf.signature!, leaf.publicKey!),
          );
          if (message !== undefined && leaf.publicKeyBase58 === signer)
            assert.equal(verified, vector.signature_verified ?? true);
        }
      }
    });
  }

  it('the whole crypto-conditions vector suite passes with #crypto resolved to noble (--conditions=browser)', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--conditions=development',
        '--conditions=browser',
        '--import',
        'tsx',
        '--test',
        'test/protocol/cc/vectors.test.ts',
      ],
      { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME } },
    );
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^# fail 0$/m);
    const which = spawnSync(
      process.execPath,
      [
        '--conditions=development',
        '--conditions=browser',
        '--import',
        'tsx',
        '-e',
        "Promise.all([import('#crypto'), import('./src/protocol/crypto-noble.ts')]).then(([c, noble]) => console.log(c.verifyMessage === noble.verifyMessage))",
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(
      which.stdout.trim(),
      'true',
      `the browser condition selects crypto-noble.ts\n${which.stderr}`,
    );
  });
});

describe('both crypto backends agree on any input', () => {
  // RFC 8032 §7.1 tests 1–3 and the seed's keypairs (behaviour §12.1).
  const RFC8032: [string, string, string, string][] = [
    [
      '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      '',
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    ],
    [
      '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      '72',
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    ],
    [
      'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
      'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
      'af82',
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
    ],
  ];
  for (const [i, [seed, publicKey, message, signature]] of RFC8032.entries()) {
    it(`RFC 8032 test ${i + 1}`, () => {
      assert.equal(
        same('publicKeyBytes', (b) => toHex(b.publicKeyBytes(fromHex(seed)))),
        publicKey,
      );
      assert.equal(
        same('signMessage', (b) => toHex(b.signMessage(fromHex(message), fromHex(seed)))),
        signature,
      );
      assert.equal(
        same('verify', (b) => b.verifyMessage(fromHex(message), fromHex(signature), fromHex(publicKey))),
        true,
      );
    });
  }

  it('hashes: SHA3-256 (FIPS 202, not Keccak) and SHA-256 of text (as UTF-8) and bytes', () => {
    assert.equal(
      same('sha3Hex', (b) => b.sha3Hex('字')),
      '2b38731ba4ef72d4034bef49e87c381d1fbe75435163b391dd33249331f91fe7',
    );
    assert.equal(
      same('sha3Hex', (b) => b.sha3Hex('')),
      'a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a',
    );
    assert.equal(
      same('sha256', (b) => toHex(b.sha256('abc'))),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    // A lone surrogate is encoded as U+FFFD by both.
    same('sha3Hex of a lone surrogate', (b) => b.sha3Hex('a\ud800b'));
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }),
        (text, bytes) => {
          same('sha3Hex text', (b) => b.sha3Hex(text));
          same('sha3Hex bytes', (b) => b.sha3Hex(bytes));
          same('sha256 text', (b) => toHex(b.sha256(text)));
          same('sha256 bytes', (b) => toHex(b.sha256(bytes)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('Ed25519: the same keys and signatures; the same verdicts on tampered signatures, messages and keys', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.nat(63),
        fc.integer({ min: 1, max: 255 }),
        (seed, message, at, flip) => {
          const publicKey = same('publicKeyBytes', (b) => b.publicKeyBytes(seed));
          const signature = same('signMessage', (b) => b.signMessage(message, seed));
          assert.equal(
            same('verify', (b) => b.verifyMessage(message, signature, publicKey)),
            true,
          );
          assert.equal(
            same('verify base58 key', (b) => b.verifyMessage(message, signature, base58Encode(publicKey))),
            true,
          );
          const tampered = signature.slice();
          tampered[at] = tampered[at]! ^ flip;
          assert.equal(
            same('verify tampered signature', (b) => b.verifyMessage(message, tampered, publicKey)),
            false,
          );
          assert.equal(
            same('verify other message', (b) => b.verifyMessage(`${message}!`, signature, publicKey)),
            false,
          );
          const otherKey = publicKey.slice();
          otherKey[at % 32] = otherKey[at % 32]! ^ flip;
          same('verify with a tampered key', (b) => b.verifyMessage(message, signature, otherKey));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('crafted signatures on small-order and non-canonical points: the same verdicts as OpenSSL', () => {
    // The eight small-order points (and non-canonical encodings of some), as libsodium's blocklist lists them.
    const P = 2n ** 255n - 19n;
    const le = (n: bigint): string => {
      let hex = '';
      for (let i = 0; i < 32; i++, n >>= 8n)
        hex += Number(n & 0xffn)
          .toString(16)
          .padStart(2, '0');
      return hex;
    };
    const points = [
      le(1n), // identity
      le(P - 1n), // order 2
      le(0n), // order 4
      le(2n ** 255n), // order 4, x negative
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
      '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
      '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
      le(P + 1n), // identity, y not reduced
      le(P), // y = 0, not reduced
      le(1n | (1n << 255n)), // identity with the sign bit: x = 0 cannot be negative
    ].map(fromHex);
    const seed = new Uint8Array(32).fill(9);
    const realKey = nodeCrypto.publicKeyBytes(seed);
    const realSignature = nodeCrypto.signMessage('m', seed);
    let accepted = 0;
    for (const key of [...points, realKey]) {
      for (const r of [...points, realSignature.subarray(0, 32)]) {
        for (const sHex of [le(0n), le(1n), toHex(realSignature.subarray(32))]) {
          const signature = Uint8Array.of(...r, ...fromHex(sHex));
          for (const message of ['m', '']) {
            if (
              same(`A=${toHex(key)} R=${toHex(r)} S=${sHex}`, (b) => b.verifyMessage(message, signature, key))
            )
              accepted++;
          }
        }
      }
    }
    // OpenSSL accepts some of these (small-order keys make trivial forgeries): the pure-JS one must, too.
    assert.ok(accepted > 0);
  });

  it('malformed keys and signatures: false from verify, EncodingError from sign, never a crash', () => {
    const seed = new Uint8Array(32).fill(7);
    const publicKey = nodeCrypto.publicKeyBytes(seed);
    const signature = nodeCrypto.signMessage('m', seed);
    // S + L: the same point equation, a non-canonical S that RFC 8032 says to refuse.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
    const nonCanonical = signature.slice();
    let big = s + L;
    for (let i = 0; i < 32; i++, big >>= 8n) nonCanonical[32 + i] = Number(big & 0xffn);
    const cases: [string, Uint8Array, Uint8Array | string][] = [
      ['short signature', signature.slice(0, 63), publicKey],
      ['long signature', Uint8Array.of(...signature, 0), publicKey],
      ['non-canonical S', nonCanonical, publicKey],
      ['short key', signature, publicKey.slice(0, 31)],
      ['key not base58', signature, '0OIl'],
      ['key of 33 bytes', signature, base58Encode(Uint8Array.of(...publicKey, 1))],
      ['all-ones key (not on the curve)', signature, new Uint8Array(32).fill(0xff)],
    ];
    for (const [what, sig, key] of cases)
      assert.equal(
        same(what, (b) => b.verifyMessage('m', sig, key)),
        false,
        what,
      );
    for (const backend of Object.values(BACKENDS)) {
      assert.throws(() => backend.signMessage('m', new Uint8Array(31)), { name: 'EncodingError' });
      assert.throws(() => backend.publicKeyBytes('0OIl'), { name: 'EncodingError' });
      assert.equal(backend.randomSeed().length, 32);
    }
  });
});
