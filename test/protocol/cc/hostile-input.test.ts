import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { base64UrlEncode, concatBytes, fromHex } from '../../../src/protocol/bytes.ts';
import { Writer } from '../../../src/protocol/cc/encoding.ts';
import {
  Condition,
  CryptoConditionError,
  Ed25519Fulfillment,
  Fulfillment,
  MAX_DEPTH,
  MAX_PAYLOAD_LENGTH,
  MAX_THRESHOLD,
  ParseError,
  PreimageSha256Fulfillment,
  ThresholdSha256Fulfillment,
  UnsupportedTypeError,
  validateFulfillment,
} from '../../../src/protocol/cc/index.ts';
import { fulfillmentBinary, lengthPrefix, vectors } from './helpers.ts';

const ED25519_URI = vectors.find((v) => v.outputs?.fulfillment_uri?.startsWith('cf:4:'))!.outputs!
  .fulfillment_uri!;
const THRESHOLD_URI = vectors.find((v) => v.fulfillment_uri?.startsWith('cf:2:'))!.fulfillment_uri!;
const CONDITION_URI = 'cc:4:20:sVA_3p8gvl8yRFNTomqm6MaavKewka6dGYcFAuPrRXQ:96';

/** Everything a parser may do with hostile input: return, or throw one of ours. */
function parseOrOurError(parse: () => unknown): unknown {
  try {
    return parse();
  } catch (error) {
    assert.ok(error instanceof CryptoConditionError, `escaped: ${String(error)}`);
    return error;
  }
}

/** A parsed fulfillment must also survive everything done with it afterwards. */
function exercise(fulfillment: Fulfillment): void {
  parseOrOurError(() => fulfillment.conditionUri);
  parseOrOurError(() => fulfillment.serializeUri());
  parseOrOurError(() => fulfillment.toDict());
  parseOrOurError(() => fulfillment.validate('message', '1464242352'));
}

/** `payload` of a threshold: VARUINT threshold ‖ VARUINT count ‖ entries (given raw). */
function thresholdPayload(threshold: number[], count: number[], ...entries: Uint8Array[]): Uint8Array {
  return concatBytes(Uint8Array.of(...threshold, ...count), ...entries);
}

/** One threshold entry: VARUINT weight ‖ VARBYTES fulfillment ‖ VARBYTES condition. */
function entry(
  weight: number[],
  fulfillment: Uint8Array,
  condition: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return concatBytes(
    Uint8Array.of(...weight, ...lengthPrefix(fulfillment.length)),
    fulfillment,
    Uint8Array.of(...lengthPrefix(condition.length)),
    condition,
  );
}

const PREIMAGE_BINARY = fulfillmentBinary(0, new Uint8Array(0));

test('truncated binaries fail at every cut point', () => {
  const sources = vectors
    .flatMap((v) => [v.fulfillment_uri, v.outputs?.fulfillment_uri])
    .filter((u) => u !== undefined);
  for (const uri of sources) {
    const binary = Fulfillment.fromUri(uri).serializeBinary();
    for (let cut = 0; cut < binary.length; cut++) {
      assert.throws(
        () => Fulfillment.fromBinary(binary.subarray(0, cut)),
        ParseError,
        `${uri} cut at ${cut}`,
      );
    }
  }
  const condition = Condition.fromUri(CONDITION_URI).serializeBinary();
  for (let cut = 0; cut < condition.length; cut++) {
    assert.throws(() => Condition.fromBinary(condition.subarray(0, cut)), ParseError);
  }
});

test('truncated URIs either fail or are canonical URIs of something else', () => {
  for (const uri of [ED25519_URI, THRESHOLD_URI]) {
    for (let cut = 0; cut < uri.length; cut++) {
      assert.throws(() => Fulfillment.fromUri(uri.slice(0, cut)), ParseError, `cut at ${cut}`);
    }
  }
  for (const uri of ['cf:0:bXVjaCBzZWNyZXQhIHdvdyE', CONDITION_URI]) {
    for (let cut = 0; cut < uri.length; cut++) {
      const prefix = uri.slice(0, cut);
      const parse = uri.startsWith('cc:')
        ? () => Condition.fromUri(prefix)
        : () => Fulfillment.fromUri(prefix);
      const parsed = parseOrOurError(parse);
      if (parsed instanceof Condition || parsed instanceof Fulfillment) {
        assert.equal(parsed.serializeUri(), prefix);
      } else assert.ok(parsed instanceof ParseError);
    }
  }
});

test('oversized lengths and absurd counts are refused before anything is allocated', () => {
  const cases: [string, Uint8Array][] = [
    ['length prefix of 4 GiB', Uint8Array.of(0x00, 0x00, 0x84, 0xff, 0xff, 0xff, 0xff)],
    ['length prefix of 7 bytes', Uint8Array.of(0x00, 0x00, 0x87, 1, 0, 0, 0, 0, 0, 0)],
    [
      'count 2^40',
      fulfillmentBinary(2, thresholdPayload([1, 1], [6, 1, 0, 0, 0, 0, 0], entry([1, 1], PREIMAGE_BINARY))),
    ],
    ['count 0', fulfillmentBinary(2, thresholdPayload([1, 1], [1, 0]))],
    [
      'count above the bytes left',
      fulfillmentBinary(2, thresholdPayload([1, 1], [1, 100], entry([1, 1], PREIMAGE_BINARY))),
    ],
    ['VARUINT of 7 bytes', fulfillmentBinary(2, thresholdPayload([7, 0, 0, 0, 0, 0, 0, 1], [1, 1]))],
    ['threshold 0', fulfillmentBinary(2, thresholdPayload([1, 0], [1, 1], entry([1, 1], PREIMAGE_BINARY)))],
    [
      'threshold 2^32',
      fulfillmentBinary(2, thresholdPayload([5, 1, 0, 0, 0, 0], [1, 1], entry([1, 1], PREIMAGE_BINARY))),
    ],
    ['weight 0', fulfillmentBinary(2, thresholdPayload([1, 1], [1, 1], entry([1, 0], PREIMAGE_BINARY)))],
    [
      'threshold above the weights',
      fulfillmentBinary(2, thresholdPayload([1, 2], [1, 1], entry([1, 1], PREIMAGE_BINARY))),
    ],
    [
      'both fulfillment and condition',
      fulfillmentBinary(
        2,
        thresholdPayload(
          [1, 1],
          [1, 1],
          entry([1, 1], PREIMAGE_BINARY, Condition.fromUri(CONDITION_URI).serializeBinary()),
        ),
      ),
    ],
    [
      'neither fulfillment nor condition',
      fulfillmentBinary(2, thresholdPayload([1, 1], [1, 1], entry([1, 1], new Uint8Array(0)))),
    ],
    ['short Ed25519 payload', fulfillmentBinary(4, new Uint8Array(95))],
    ['timeout that is no time', fulfillmentBinary(99, new TextEncoder().encode('tomorrow'))],
    ['timeout that is not text', fulfillmentBinary(99, Uint8Array.of(0xff, 0xfe))],
    ['payload over 64 KiB', fulfillmentBinary(0, new Uint8Array(70_000))],
  ];
  for (const [name, binary] of cases) {
    assert.throws(() => Fulfillment.fromBinary(binary), ParseError, name);
  }
  assert.throws(
    () => Condition.fromBinary(Uint8Array.of(0, 4, 1, 0x20, 0x41, ...new Uint8Array(65), 1, 0x60)),
    ParseError,
  );
  assert.throws(() => Condition.fromBinary(Uint8Array.of(0, 4, 1, 0, 0, 1, 0x60)), ParseError, 'bitmask 0');
  assert.throws(() => Fulfillment.fromUri(`cf:0:${'A'.repeat(100_000)}`), ParseError);
});

test('nesting deeper than the limit is refused, built as bytes', () => {
  const nest = (levels: number, inner: Uint8Array): Uint8Array => {
    let binary = inner;
    for (let i = 0; i < levels; i++)
      binary = fulfillmentBinary(2, thresholdPayload([1, 1], [1, 1], entry([1, 1], binary)));
    return binary;
  };
  // the root plus MAX_DEPTH nested levels
  const atLimit = Fulfillment.fromBinary(nest(MAX_DEPTH, PREIMAGE_BINARY));
  assert.match(atLimit.conditionUri, /^cc:2:b:/);
  assert.equal(atLimit.validate(''), true);
  assert.equal(Fulfillment.fromUri(atLimit.serializeUri()).conditionUri, atLimit.conditionUri);
  assert.throws(() => Fulfillment.fromBinary(nest(MAX_DEPTH + 1, PREIMAGE_BINARY)), ParseError);
  // thousands of levels in 40 KB: refused at the limit, no stack overflow
  assert.throws(() => Fulfillment.fromBinary(nest(5000, PREIMAGE_BINARY)), ParseError);
  let prefixes = PREIMAGE_BINARY;
  for (let i = 0; i < 5000; i++) prefixes = fulfillmentBinary(1, concatBytes(Uint8Array.of(0), prefixes));
  assert.throws(() => Fulfillment.fromBinary(prefixes), ParseError);

  let details: Record<string, unknown> = { type_id: 0, preimage: '' };
  for (let i = 0; i < 1000; i++) {
    details = {
      type: 'fulfillment',
      type_id: 2,
      threshold: 1,
      subfulfillments: [{ ...details, type: 'fulfillment', weight: 1 }],
    };
  }
  assert.throws(() => Fulfillment.fromDict(details), ParseError);
});

test('a 64 KiB structure built for the worst case stays cheap', () => {
  // MAX_DEPTH nested thresholds of MAX_THRESHOLD, each with the next level (weight = threshold) and as many
  // tiny bare conditions with distinct weights ≥ 256 as fit: the most table work per byte.
  const perLevel = 300;
  let payload: Uint8Array = new Uint8Array(0);
  let binary = PREIMAGE_BINARY;
  for (let level = 0; level < MAX_DEPTH; level++) {
    const writer = new Writer().varUint(MAX_THRESHOLD).varUint(perLevel + 1);
    writer.varUint(MAX_THRESHOLD).varBytes(binary).varBytes(new Uint8Array(0));
    for (let i = 0; i < perLevel; i++) {
      const condition = new Writer().uint16(0).varUint(1).varBytes(new Uint8Array(0)).varUint(i).finish();
      writer
        .varUint(257 + i * 13)
        .varBytes(new Uint8Array(0))
        .varBytes(condition);
    }
    payload = writer.finish();
    binary = new Writer().uint16(2).varBytes(payload).finish();
  }
  assert.ok(payload.length > 55_000 && payload.length <= MAX_PAYLOAD_LENGTH);
  const uri = `cf:2:${base64UrlEncode(payload)}`;
  const started = performance.now();
  const condition = Fulfillment.fromUri(uri).conditionUri;
  assert.equal(validateFulfillment(uri, condition, 'message'), true);
  assert.ok(performance.now() - started < 3000, `took ${performance.now() - started} ms`);
});

test('wrong types in dicts are ParseErrors naming the field', () => {
  const key = new Ed25519Fulfillment(new Uint8Array(32).fill(5)).toDict();
  const good = {
    type: 'fulfillment',
    type_id: 2,
    bitmask: 41,
    threshold: 1,
    subfulfillments: [{ ...key, weight: 1 }],
  };
  const cases: [unknown, RegExp][] = [
    [null, /details must be an object/],
    [[good], /details must be an object/],
    ['cf:0:', /details must be an object/],
    [{ ...good, type_id: '2' }, /details\.type_id/],
    [{ ...good, threshold: '1' }, /details\.threshold/],
    [{ ...good, threshold: 1.5 }, /details\.threshold/],
    [{ ...good, threshold: 0 }, /details\.threshold/],
    [{ ...good, threshold: 2 }, /details\.threshold exceeds/],
    [{ ...good, subfulfillments: {} }, /details\.subfulfillments must be an array/],
    [{ ...good, subfulfillments: [] }, /details\.subfulfillments must not be empty/],
    [{ type_id: 2, threshold: 1 }, /details\.subfulfillments is missing/],
    [{ ...good, subfulfillments: [null] }, /details\.subfulfillments\[0\] must be an object/],
    [{ ...good, subfulfillments: [{ ...key }] }, /details\.subfulfillments\[0\]\.weight is missing/],
    [{ ...good, subfulfillments: [{ ...key, weight: 0 }] }, /details\.subfulfillments\[0\]\.weight/],
    [{ ...good, subfulfillments: [{ ...key, weight: 1, type: 'other' }] }, /subfulfillments\[0\]\.type/],
    [
      { ...good, subfulfillments: [{ ...key, weight: 1, public_key: 'abc' }] },
      /subfulfillments\[0\]\.public_key/,
    ],
    [
      { ...good, subfulfillments: [{ ...key, weight: 1, public_key: 7 }] },
      /subfulfillments\[0\]\.public_key/,
    ],
    [{ ...key, public_key: 'x'.repeat(100_000) }, /details\.public_key is too long/],
    [{ ...key, signature: 'abc' }, /details\.signature/],
    [{ ...key, signature: 12 }, /details\.signature/],
    [{ type_id: 4, public_key: key.public_key }, /details\.signature is missing/],
    [{ type_id: 0, preimage: 5 }, /details\.preimage must be a string/],
    [{ type_id: 99, expire_time: 1464242352 }, /details\.expire_time must be a string/],
    [{ type_id: 99, expire_time: 'soon' }, /details\.expire_time must match/],
    [{ type_id: 1, prefix: '!!', subfulfillment: { type_id: 0, preimage: '' } }, /details\.prefix/],
    [{ type_id: 1, prefix: '', subfulfillment: [] }, /details\.subfulfillment must be an object/],
    [{ type: 'condition', type_id: 2, hash: 'zzz' }, /details\.type_id|details\.threshold/],
  ];
  for (const [details, message] of cases) {
    assert.throws(
      () => Fulfillment.fromDict(details),
      (error: unknown) => {
        assert.ok(error instanceof ParseError, `${JSON.stringify(details)?.slice(0, 80)}: ${String(error)}`);
        assert.match(error.message, message);
        return true;
      },
    );
  }
  const condition = Condition.fromUri(CONDITION_URI).toDict();
  for (const [details, message] of [
    [{ ...condition, hash: 'O0Il' }, /details\.hash/],
    [{ ...condition, bitmask: 0 }, /details\.bitmask/],
    [{ ...condition, max_fulfillment_length: -1 }, /details\.max_fulfillment_length/],
    [{ ...condition, type_id: 70_000 }, /details\.type_id/],
  ] as const) {
    assert.throws(() => Condition.fromDict(details), message);
  }
});

test('URI syntax: bad base64, upper-case hex, leading zeros, unknown types', () => {
  const bad = [
    'cf:4:@@@@',
    'cf:0:A',
    'cf:0:AB', // unused bits set (non-canonical base64url)
    'cf:0:bXVjaA==',
    'CF:0:',
    'cf:A:AA',
    'cf:04:AA',
    'cf:0',
    ' cf:0:',
    'cf:0:\n',
    'cf:10000:',
  ];
  for (const uri of bad) assert.throws(() => Fulfillment.fromUri(uri), ParseError, uri);
  const [, type, bitmask, hash] = CONDITION_URI.split(':') as [string, string, string, string];
  const badConditions = [
    `cc:${type}:${bitmask}:${hash}:096`,
    `cc:0${type}:${bitmask}:${hash}:96`,
    `cc:${type}:0${bitmask}:${hash}:96`,
    `cc:${type}:0:${hash}:96`,
    `cc:${type}:2A:${hash}:96`,
    `CC:${type}:${bitmask}:${hash}:96`,
    `cc:${type}:${bitmask}:${hash.slice(0, -1)}R:96`, // unused bits set
    `cc:${type}:${bitmask}:${hash}=:96`,
    `cc:${type}:${bitmask}:${hash}:281474976710656`, // 2^48: beyond a 6-byte VARUINT
    `cc:${type}:${bitmask}:${'A'.repeat(87)}:96`,
    `cc:${type}:${bitmask}:${hash}:96:`,
  ];
  for (const uri of badConditions) assert.throws(() => Condition.fromUri(uri), ParseError, uri);
  for (const value of [undefined, 42, {}, new Uint8Array(3)]) {
    assert.throws(() => Fulfillment.fromUri(value as unknown as string), ParseError);
    assert.throws(() => Condition.fromUri(value as unknown as string), ParseError);
  }
  for (const value of [undefined, 42, 'cf:0:', [0, 0, 0]]) {
    assert.throws(() => Fulfillment.fromBinary(value as unknown as Uint8Array), ParseError);
    assert.throws(() => Condition.fromBinary(value as unknown as Uint8Array), ParseError);
  }
  for (const uri of ['cf:3:AAAA', 'cf:5:', 'cf:ffff:', 'cf:61:']) {
    assert.throws(() => Fulfillment.fromUri(uri), UnsupportedTypeError, uri);
  }
  assert.throws(() => Fulfillment.fromBinary(fulfillmentBinary(3, new Uint8Array(4))), UnsupportedTypeError);
  assert.throws(() => Fulfillment.fromDict({ type_id: 3 }), /RSA-SHA-256 \(type 3\) is not supported/);
  // a nested unknown type is just as unsupported
  const nested = fulfillmentBinary(
    2,
    thresholdPayload([1, 1], [1, 1], entry([1, 1], fulfillmentBinary(3, new Uint8Array(4)))),
  );
  assert.throws(() => Fulfillment.fromBinary(nested), UnsupportedTypeError);
  // conditions are data: any type id parses (a threshold may hold an RSA sub-condition)
  assert.equal(Condition.fromUri('cc:3:11:AAAA:260').serializeUri(), 'cc:3:11:AAAA:260');
});

test('fuzz: random bytes and strings only ever produce our errors', () => {
  const seeds = vectors
    .flatMap((v) => [v.fulfillment_uri, v.outputs?.fulfillment_uri])
    .filter((uri) => uri !== undefined)
    .map((uri) => Fulfillment.fromUri(uri).serializeBinary());
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
    )
    .map(([binary, edits]) => {
      const copy = binary.slice();
      for (const [position, value] of edits) copy[position % copy.length] = value;
      return copy;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated), (bytes) => {
      const fulfillment = parseOrOurError(() => Fulfillment.fromBinary(bytes));
      if (fulfillment instanceof Fulfillment) exercise(fulfillment);
      parseOrOurError(() => Condition.fromBinary(bytes));
    }),
    { numRuns: 3000 },
  );
  const uriBody = fc.string({
    unit: fc.constantFrom(...'0123456789abcdefABCDEF-_:=cf'.split('')),
    maxLength: 200,
  });
  const uris = fc.oneof(
    fc.string(),
    uriBody.map((body) => `cf:${body}`),
    uriBody.map((body) => `cc:${body}`),
    fc
      .tuple(fc.constantFrom('0', '1', '2', '4', '62', '63', '3'), fc.uint8Array({ maxLength: 200 }))
      .map(([type, payload]) => `cf:${type}:${Buffer.from(payload).toString('base64url')}`),
  );
  fc.assert(
    fc.property(uris, (uri) => {
      const fulfillment = parseOrOurError(() => Fulfillment.fromUri(uri));
      if (fulfillment instanceof Fulfillment) exercise(fulfillment);
      const condition = parseOrOurError(() => Condition.fromUri(uri));
      if (condition instanceof Condition) assert.equal(condition.serializeUri(), uri);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      parseOrOurError(() => Fulfillment.fromDict(value));
      parseOrOurError(() => Condition.fromDict(value));
    }),
    { numRuns: 500 },
  );
});

test('hostile fulfillments via the public constructors are refused too', () => {
  assert.throws(() => new Ed25519Fulfillment(new Uint8Array(31)), ParseError);
  assert.throws(() => new Ed25519Fulfillment('0OIl'), ParseError);
  assert.throws(() => new PreimageSha256Fulfillment(42 as unknown as string), ParseError);
  assert.throws(() => new ThresholdSha256Fulfillment(1e9), ParseError);
  const threshold = new ThresholdSha256Fulfillment(1);
  threshold.addSubfulfillment(new PreimageSha256Fulfillment());
  threshold.threshold = 1e9; // the public fields are re-checked before use
  assert.throws(() => threshold.conditionUri, ParseError);
  assert.throws(
    () => new PreimageSha256Fulfillment(new Uint8Array(70_000)).serializeUri(),
    CryptoConditionError,
  );
  assert.deepEqual(fromHex(''), new Uint8Array(0));
});
