import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { base58Decode, base58Encode } from '../../src/protocol/base58.ts';
import { fromHex, toHex } from '../../src/protocol/bytes.ts';
import { EncodingError } from '../../src/protocol/errors.ts';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** The textbook definition: leading zero bytes become '1's, the rest is the number written in base 58. */
function referenceEncode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let n = bytes.length === 0 ? 0n : BigInt(`0x${toHex(bytes)}`);
  let digits = '';
  while (n > 0n) {
    digits = ALPHABET[Number(n % 58n)] + digits;
    n /= 58n;
  }
  return '1'.repeat(zeros) + digits;
}

describe('base58', () => {
  // Bitcoin Core's base58_encode_decode vectors, plus leading-zero cases.
  const vectors: [string, string][] = [
    ['', ''],
    ['61', '2g'],
    ['626262', 'a3gV'],
    ['636363', 'aPEr'],
    ['73696d706c6520737472696e67', 'AcYmLbFRT1EJ7yPPka'],
    ['00eb15231dfceb60925886b67d065299925915aeb172c06647', '1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L'],
    ['516b6fcd0f', 'ABnLTmg'],
    ['bf4f89001e670274dd', '3SEo3LWLoPntC'],
    ['572e4794', '3EFU7m'],
    ['ecac89cad93923c02321', 'EJDM8drfXA6uyA'],
    ['10c8511e', 'Rt5zm'],
    ['00000000000000000000', '1111111111'],
    ['00', '1'],
    ['000001', '112'],
    ['0000ff', '115Q'],
  ];
  for (const [hex, text] of vectors) {
    it(`encodes 0x${hex} as "${text}" and back`, () => {
      assert.equal(base58Encode(fromHex(hex)), text);
      assert.equal(toHex(base58Decode(text)), hex);
    });
  }

  it('decodes the conftest keys (behaviour §12.1) to 32 bytes and re-encodes them unchanged', () => {
    const keys = [
      '31Lb1ZGKTyHnmVK3LUMrAUrPNfd4sE2YyBt3UA4A25aA',
      '4XYfCbabAWVUCbjTmRTFEu2sc3dFEdkse4r6X498B1s8',
      '8eJ8q9ZQpReWyQT5aFCiwtZ5wDZC4eDnCen88p3tQ6ie',
      'JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE',
    ];
    for (const key of keys) {
      const raw = base58Decode(key);
      assert.equal(raw.length, 32, key);
      assert.equal(base58Encode(raw), key);
    }
  });

  it('encodes 32 zero bytes as 32 ones', () => {
    assert.equal(base58Encode(new Uint8Array(32)), '1'.repeat(32));
  });

  it('agrees with the textbook definition and round-trips any bytes', () => {
    const bytes = fc.tuple(fc.nat({ max: 4 }), fc.uint8Array({ maxLength: 80 })).map(([zeros, rest]) => {
      const withZeros = new Uint8Array(zeros + rest.length);
      withZeros.set(rest, zeros);
      return withZeros;
    });
    fc.assert(
      fc.property(bytes, (value) => {
        const text = base58Encode(value);
        assert.equal(text, referenceEncode(value));
        assert.deepEqual(base58Decode(text), value);
      }),
    );
  });

  it('round-trips any text over the alphabet', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 60 }), (text) => {
        assert.equal(base58Encode(base58Decode(text)), text);
      }),
    );
  });

  for (const bad of ['0', 'O', 'I', 'l', '+', '/', ' ', '2g ', 'é', '😀', 'abc\n']) {
    it(`rejects ${JSON.stringify(bad)} with an EncodingError`, () => {
      assert.throws(() => base58Decode(bad), EncodingError);
    });
  }

  it('rejects a non-string with an EncodingError', () => {
    assert.throws(() => base58Decode(42 as unknown as string), EncodingError);
  });
});
