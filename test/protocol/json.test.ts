import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BigchainDBError, SerializationError } from '../../src/protocol/errors.ts';
import { jsonClone, MAX_JSON_DEPTH, serialize } from '../../src/protocol/json.ts';

/** The double with the given IEEE 754 bit pattern, as RFC 8785 Appendix B lists them. */
function double(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

function nested(depth: number, kind: 'array' | 'object'): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { k: value };
  return value;
}

function hasUnsafeInteger(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasUnsafeInteger);
  return false;
}

describe('serialize (RFC 8785)', () => {
  it('writes the RFC 8785 §3.2.2 example (without 1E30, which PROTOCOL R2 refuses)', () => {
    const input: unknown = JSON.parse(
      '{"numbers": [333333333.33333329, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    assert.equal(
      serialize(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units: the RFC 8785 §3.2.3 example', () => {
    // 0.6 sorted by UTF-8 bytes, which would put U+FB33 before the emoji; PROTOCOL R2 rules RFC 8785.
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    assert.equal(
      serialize(input),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('sorts integer-like keys as strings, not in JS enumeration order', () => {
    assert.equal(serialize({ b: 1, 9: 2, 10: 3, a: 4 }), '{"10":3,"9":2,"a":4,"b":1}');
  });

  it('writes no whitespace and keeps array order', () => {
    assert.equal(serialize({ z: [3, 1, { y: null, x: [] }], a: {} }), '{"a":{},"z":[3,1,{"x":[],"y":null}]}');
  });

  it('writes the RFC 8785 Appendix B numbers that are in range', () => {
    const cases: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'], // -0
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, expected] of cases) assert.equal(serialize(double(bits)), expected, bits);
  });

  it('writes other numbers in ECMAScript form', () => {
    assert.equal(serialize(0.1 + 0.2), '0.30000000000000004');
    assert.equal(serialize(1e-7), '1e-7');
    assert.equal(serialize(1.5e-7), '1.5e-7');
    assert.equal(serialize(-0), '0');
    assert.equal(serialize(1.0), '1');
    assert.equal(serialize(Number.MAX_SAFE_INTEGER), '9007199254740991');
    assert.equal(serialize(Number.MIN_SAFE_INTEGER), '-9007199254740991');
  });

  it('refuses the integer-valued doubles of 2^53 and beyond, even those RFC 8785 prints (1e+21, 1e+30)', () => {
    // Every double of magnitude ≥ 2^53 is an integer, and a client's 9007199254740993 would silently
    // arrive as ...992: such numbers cannot round-trip, so PROTOCOL R2 refuses all of them.
    const refused = [
      2 ** 53,
      -(2 ** 53),
      1e21,
      1e30,
      double('444b1ae4d6e2ef50'),
      double('7fefffffffffffff'),
      Number.MAX_VALUE,
    ];
    for (const value of refused) assert.throws(() => serialize(value), SerializationError, String(value));
  });

  it('escapes control characters minimally with lower-case hex', () => {
    // U+0001..U+001F: U+0000 is refused (PROTOCOL R2).
    const controls = Array.from({ length: 0x1f }, (_, code) => String.fromCharCode(code + 1)).join('');
    assert.equal(
      serialize(controls),
      '"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
        '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"',
    );
    assert.equal(serialize('"\\'), '"\\"\\\\"');
  });

  it('does not escape "/", DEL, U+2028 or non-ASCII text', () => {
    assert.equal(serialize('a/b'), '"a/b"');
    assert.equal(serialize('\u007f\u2028\u2029é字😀'), '"\u007f\u2028\u2029é字😀"');
  });

  it('omits properties whose value is undefined, like a JSON round trip', () => {
    assert.equal(serialize({ a: undefined, b: 1 }), '{"b":1}');
  });

  it('accepts objects without a prototype', () => {
    const record = Object.create(null) as Record<string, unknown>;
    record.b = 1;
    record.a = 2;
    assert.equal(serialize(record), '{"a":2,"b":1}');
  });

  const refusals: Record<string, unknown> = {
    NaN: Number.NaN,
    Infinity: Number.POSITIVE_INFINITY,
    '-Infinity': Number.NEGATIVE_INFINITY,
    '2**53': 2 ** 53,
    '-(2**53)': -(2 ** 53),
    'a nested unsafe integer': { a: [1, { b: 2 ** 60 }] },
    'a lone high surrogate': '\ud800',
    'a lone low surrogate': 'a\udc00b',
    'reversed surrogates': '\udc00\ud800',
    'a lone surrogate in a key': { '\ud800': 1 },
    'U+0000 in a string': 'nul \u0000 here',
    'U+0000 in a key': { 'a\u0000': 1 },
    'U+0000 deep in a payload': { a: [{ b: '\u0000' }] },
    'a function': () => 1,
    'a function property': { f: () => 1 },
    'a Date': new Date(0),
    'a Map': new Map(),
    'a class instance': new (class Point {
      x = 1;
    })(),
    'a nested class instance': { a: [new Uint8Array(1)] },
    undefined: undefined,
    'an undefined array element': [undefined],
    'an array hole': [1, , 3],
    'a bigint': 1n,
    'a symbol': Symbol('s'),
    [`arrays nested deeper than MAX_JSON_DEPTH (${MAX_JSON_DEPTH})`]: nested(MAX_JSON_DEPTH + 1, 'array'),
    [`objects nested deeper than MAX_JSON_DEPTH (${MAX_JSON_DEPTH})`]: nested(MAX_JSON_DEPTH + 1, 'object'),
  };
  for (const [what, value] of Object.entries(refusals)) {
    it(`refuses ${what} with a SerializationError`, () => {
      assert.throws(
        () => serialize(value),
        (error: unknown) => error instanceof SerializationError && error instanceof BigchainDBError,
      );
    });
  }

  it('accepts nesting of exactly MAX_JSON_DEPTH levels', () => {
    assert.equal(
      serialize(nested(MAX_JSON_DEPTH, 'array')),
      '['.repeat(MAX_JSON_DEPTH) + '0' + ']'.repeat(MAX_JSON_DEPTH),
    );
    assert.doesNotThrow(() => serialize(nested(MAX_JSON_DEPTH, 'object')));
  });

  it('names where the offending value is', () => {
    assert.throws(() => serialize({ a: [0, Number.NaN] }), { message: /^\$\.a\[1\]: / });
    // A key that is not a plain name is quoted: the message holds no raw NUL.
    assert.throws(() => serialize({ p: { 'a\u0000': 1 } }), {
      message: '$.p["a\\u0000"]: string contains U+0000 (NUL)',
    });
  });

  const safeJson = fc.jsonValue({ stringUnit: 'grapheme' }).filter((value) => !hasUnsafeInteger(value));

  it('round-trips every JSON value through JSON.parse (up to -0, which is written as 0)', () => {
    fc.assert(
      fc.property(safeJson, (value) => {
        assert.deepEqual(JSON.parse(serialize(value)), JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('is idempotent over a parse round trip and independent of key insertion order', () => {
    fc.assert(
      fc.property(safeJson, (value) => {
        const text = serialize(value);
        assert.equal(serialize(JSON.parse(text)), text);
        assert.equal(serialize(jsonClone(value)), text);
      }),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), safeJson), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        assert.equal(serialize(reversed), serialize(record));
      }),
    );
  });

  it('refuses exactly the strings with lone surrogates or U+0000', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const wellFormed = text === Buffer.from(text, 'utf8').toString('utf8') && !text.includes('\0');
        if (wellFormed) assert.equal(serialize(text), JSON.stringify(text));
        else assert.throws(() => serialize(text), SerializationError);
      }),
    );
  });
});

describe('jsonClone', () => {
  it('is a deep copy through canonical JSON', () => {
    const original = { b: [1, { c: 'x' }], a: undefined };
    const copy = jsonClone(original);
    assert.deepEqual(copy, { b: [1, { c: 'x' }] });
    assert.notEqual(copy.b, original.b);
  });

  it('refuses what serialize refuses', () => {
    assert.throws(() => jsonClone({ n: Number.NaN }), SerializationError);
  });
});
