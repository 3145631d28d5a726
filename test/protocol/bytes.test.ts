import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  base64UrlDecode,
  base64UrlEncode,
  compareBytes,
  concatBytes,
  equalBytes,
  fromHex,
  fromUtf8,
  toHex,
  utf8,
} from '../../src/protocol/bytes.ts';
import { EncodingError } from '../../src/protocol/errors.ts';

describe('UTF-8', () => {
  it('round-trips well-formed text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        assert.equal(fromUtf8(utf8(text)), text);
      }),
    );
    assert.deepEqual(utf8('é字😀'), Uint8Array.from([0xc3, 0xa9, 0xe5, 0xad, 0x97, 0xf0, 0x9f, 0x98, 0x80]));
  });

  const invalid: Record<string, number[]> = {
    'a stray continuation byte': [0x80],
    'a 0xff byte': [0xff],
    'an overlong encoding': [0xc0, 0x80],
    'an encoded surrogate': [0xed, 0xa0, 0x80],
    'a truncated sequence': [0xe5, 0xad],
  };
  for (const [what, bytes] of Object.entries(invalid)) {
    it(`rejects ${what} with an EncodingError`, () => {
      assert.throws(() => fromUtf8(Uint8Array.from(bytes)), EncodingError);
    });
  }
});

describe('hex', () => {
  it('round-trips bytes as lower-case hex and accepts upper case', () => {
    fc.assert(
      fc.property(fc.uint8Array(), (bytes) => {
        const hex = toHex(bytes);
        assert.match(hex, /^[0-9a-f]*$/);
        assert.equal(hex, Buffer.from(bytes).toString('hex'));
        assert.deepEqual(fromHex(hex), bytes);
        assert.deepEqual(fromHex(hex.toUpperCase()), bytes);
      }),
    );
  });

  for (const bad of ['abc', 'zz', '0x00', ' 00', 'é0']) {
    it(`rejects ${JSON.stringify(bad)} with an EncodingError`, () => {
      assert.throws(() => fromHex(bad), EncodingError);
    });
  }
});

describe('base64url', () => {
  // RFC 4648 §10 vectors, in the URL-safe alphabet without padding
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'Zg'],
    ['fo', 'Zm8'],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg'],
    ['fooba', 'Zm9vYmE'],
    ['foobar', 'Zm9vYmFy'],
  ];
  for (const [text, encoded] of vectors) {
    it(`encodes "${text}" as "${encoded}" and back`, () => {
      assert.equal(base64UrlEncode(utf8(text)), encoded);
      assert.equal(fromUtf8(base64UrlDecode(encoded)), text);
    });
  }

  it('uses "-" and "_" for 62 and 63', () => {
    assert.equal(base64UrlEncode(Uint8Array.from([0xfb, 0xff, 0xbf])), '-_-_');
    assert.deepEqual(base64UrlDecode('-_-_'), Uint8Array.from([0xfb, 0xff, 0xbf]));
  });

  it('accepts padded input', () => {
    assert.equal(fromUtf8(base64UrlDecode('Zg==')), 'f');
    assert.equal(fromUtf8(base64UrlDecode('Zm8=')), 'fo');
  });

  it('agrees with Node and round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = base64UrlEncode(bytes);
        assert.equal(text, Buffer.from(bytes).toString('base64url'));
        assert.deepEqual(base64UrlDecode(text), bytes);
      }),
    );
  });

  const bad: Record<string, string> = {
    'a length of 4k+1': 'Zm9vY',
    'a single character': 'Z',
    'padding on a full group': 'Zm9v=',
    'padding that leaves a bad length': 'Zg=',
    'too much padding': 'Zg===',
    'padding in the middle': 'Zg==Zg',
    'the standard alphabet': 'ab+/',
    whitespace: 'Zm9v YmFy',
    'non-ASCII text': 'Zé',
  };
  for (const [what, text] of Object.entries(bad)) {
    it(`rejects ${what} with an EncodingError`, () => {
      assert.throws(() => base64UrlDecode(text), EncodingError);
    });
  }
});

describe('byte helpers', () => {
  it('concatBytes joins in order', () => {
    assert.deepEqual(
      concatBytes(Uint8Array.from([1]), new Uint8Array(0), Uint8Array.from([2, 3])),
      Uint8Array.from([1, 2, 3]),
    );
    assert.deepEqual(concatBytes(), new Uint8Array(0));
  });

  it('equalBytes and compareBytes agree with Buffer.compare', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
        const expected = Buffer.compare(a, b);
        assert.equal(Math.sign(compareBytes(a, b)), expected);
        assert.equal(equalBytes(a, b), expected === 0);
        assert.equal(compareBytes(a, a), 0);
      }),
    );
  });
});
