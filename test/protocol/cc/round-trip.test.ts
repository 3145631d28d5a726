import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { toHex, utf8 } from '../../../src/protocol/bytes.ts';
import {
  BIGCHAINDB_TYPE_IDS,
  Condition,
  Ed25519Fulfillment,
  Fulfillment,
  InvertedThresholdSha256Fulfillment,
  PrefixSha256Fulfillment,
  PreimageSha256Fulfillment,
  ThresholdSha256Fulfillment,
  TimeoutFulfillment,
  validateFulfillment,
} from '../../../src/protocol/cc/index.ts';
import { Reader, Writer } from '../../../src/protocol/cc/encoding.ts';
import { buildTree, treeArbitrary, vectors } from './helpers.ts';

function assertRoundTrips(fulfillment: Fulfillment): void {
  const conditionUri = fulfillment.conditionUri;
  const details = fulfillment.toDict();
  const fromDict = Fulfillment.fromDict(details);
  assert.equal(fromDict.conditionUri, conditionUri);
  assert.deepEqual(fromDict.toDict(), details);
  assert.deepEqual(JSON.parse(JSON.stringify(details)), details, 'details are plain JSON');
  assertConditionRoundTrips(fulfillment.condition);
  if (!fulfillment.isFulfilled) return;
  const uri = fulfillment.serializeUri();
  const binary = fulfillment.serializeBinary();
  assert.equal(fromDict.serializeUri(), uri);
  const reparsed = Fulfillment.fromUri(uri);
  assert.equal(reparsed.conditionUri, conditionUri);
  assert.equal(toHex(Fulfillment.fromBinary(binary).serializeBinary()), toHex(reparsed.serializeBinary()));
  if (allWeightsOne(fulfillment)) {
    assert.equal(reparsed.serializeUri(), uri);
    assert.equal(toHex(reparsed.serializeBinary()), toHex(binary));
  } else assert.equal(Fulfillment.fromUri(reparsed.serializeUri()).conditionUri, conditionUri);
}

/**
 * With weights ≠ 1 the smallest-set choice depends on entry order, and a parsed threshold has the sorted payload
 * order instead of the insertion order: it may then write fewer fulfillments (five-bells does exactly the same).
 * With weight 1 the written set is exactly `threshold` fulfillments, which a re-serialization keeps.
 */
function allWeightsOne(fulfillment: Fulfillment | Condition): boolean {
  if (fulfillment instanceof ThresholdSha256Fulfillment) {
    return fulfillment.subconditions.every((entry) => entry.weight === 1 && allWeightsOne(entry.body));
  }
  if (fulfillment instanceof PrefixSha256Fulfillment && fulfillment.subcondition) {
    return allWeightsOne(fulfillment.subcondition);
  }
  return true;
}

function assertConditionRoundTrips(condition: Condition): void {
  const uri = condition.serializeUri();
  assert.equal(Condition.fromUri(uri).serializeUri(), uri);
  assert.equal(Condition.fromBinary(condition.serializeBinary()).serializeUri(), uri);
  assert.equal(Condition.fromDict(condition.toDict()).serializeUri(), uri);
}

const seed = new Uint8Array(32).fill(9);

function signedEd25519(message = 'message'): Ed25519Fulfillment {
  const fulfillment = new Ed25519Fulfillment();
  fulfillment.sign(message, seed);
  return fulfillment;
}

test('round trips of every type: URI, binary and dict', () => {
  assertRoundTrips(new PreimageSha256Fulfillment());
  assertRoundTrips(new PreimageSha256Fulfillment('much secret! wow!'));
  assertRoundTrips(new PreimageSha256Fulfillment('x'.repeat(300)));
  assertRoundTrips(signedEd25519());
  assertRoundTrips(new Ed25519Fulfillment(signedEd25519().publicKeyBase58));
  assertRoundTrips(new TimeoutFulfillment('1464242352.227917'));
  assertRoundTrips(new TimeoutFulfillment('1464242352'));
  assertRoundTrips(new PrefixSha256Fulfillment('2016:', signedEd25519()));
  assertRoundTrips(new PrefixSha256Fulfillment(new Uint8Array(200).fill(1), signedEd25519().condition));

  const threshold = new ThresholdSha256Fulfillment(300);
  threshold.addSubfulfillment(signedEd25519(), 300);
  threshold.addSubfulfillment(new PreimageSha256Fulfillment('p'), 2);
  threshold.addSubcondition(new TimeoutFulfillment('1464242352').condition, 70_000);
  const inverted = new InvertedThresholdSha256Fulfillment(1);
  inverted.addSubfulfillment(new TimeoutFulfillment('1464242352'));
  inverted.addSubfulfillment(new PrefixSha256Fulfillment('a', new PreimageSha256Fulfillment('b')));
  threshold.addSubfulfillment(inverted, 1);
  assertRoundTrips(threshold);
  assertRoundTrips(inverted);
});

test('every condition and fulfillment in the vectors round-trips', () => {
  for (const vector of vectors) {
    for (const uri of [vector.expected_condition_uri, vector.outputs?.condition_uri]) {
      if (uri) assertConditionRoundTrips(Condition.fromUri(uri));
    }
    const fulfillmentUri = vector.fulfillment_uri ?? vector.outputs?.fulfillment_uri;
    if (fulfillmentUri) assertRoundTrips(Fulfillment.fromUri(fulfillmentUri));
  }
});

test('a parsed weighted threshold may write a smaller set than its builder did, like five-bells', () => {
  const threshold = new ThresholdSha256Fulfillment(2);
  threshold.addSubfulfillment(new PrefixSha256Fulfillment('', new PreimageSha256Fulfillment()), 1);
  threshold.addSubfulfillment(new PreimageSha256Fulfillment(), 2);
  const uri = threshold.serializeUri();
  assert.equal(uri, 'cf:2:AQIBAgECAwAAAAABAQcAAQQAAAAAAA');
  // five-bells-condition 3.3.1 re-serializes its parse of `uri` to exactly this
  const reserialized = 'cf:2:AQIBAgECAwAAAAABAQAnAAEBByBiNreoWPs1L9XDATtomM8miz64ULNK0mUksPhWw3LZcwEB';
  assert.equal(Fulfillment.fromUri(uri).serializeUri(), reserialized);
  assert.equal(Fulfillment.fromUri(reserialized).serializeUri(), reserialized);
  assert.equal(Fulfillment.fromUri(reserialized).conditionUri, threshold.conditionUri);
});

test('random structures round-trip (fast-check)', () => {
  const weight = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 400 }));
  fc.assert(
    fc.property(treeArbitrary({ depth: 2, weight, textPreimages: true }), fc.string(), (spec, message) => {
      assertRoundTrips(buildTree(spec, utf8(message)));
    }),
    { numRuns: 150 },
  );
});

test('OER encodings: correct big-endian for values and lengths ≥ 256, lenient reading', () => {
  const hex = (build: (writer: Writer) => Writer): string => toHex(build(new Writer()).finish());
  assert.equal(
    hex((w) => w.varUint(0)),
    '0100',
  );
  assert.equal(
    hex((w) => w.varUint(96)),
    '0160',
  );
  assert.equal(
    hex((w) => w.varUint(206)),
    '01ce',
  );
  assert.equal(
    hex((w) => w.varUint(300)),
    '02012c',
  );
  assert.equal(
    hex((w) => w.varUint(2 ** 48 - 1)),
    '06ffffffffffff',
  );
  assert.equal(
    hex((w) => w.uint32(2)),
    '00000002',
  );
  for (const [length, prefix] of [
    [127, '7f'],
    [128, '8180'],
    [255, '81ff'],
    [256, '820100'],
    [65_536, '83010000'],
  ] as const) {
    const encoded = new Writer().varBytes(new Uint8Array(length)).finish();
    assert.equal(toHex(encoded.subarray(0, prefix.length / 2)), prefix);
    assert.equal(new Reader(encoded).varBytes('test').length, length);
  }
  // non-minimal encodings are read as both libraries read them
  assert.equal(new Reader(Uint8Array.of(0x02, 0x00, 0x05)).varUint('test'), 5);
  assert.equal(new Reader(Uint8Array.of(0x82, 0x00, 0x01, 0xaa)).varBytes('test').length, 1);
  assert.equal(new Reader(Uint8Array.of(0x00)).varUint('test'), 0);

  const preimage = new PreimageSha256Fulfillment(new Uint8Array(300));
  assert.equal(toHex(preimage.serializeBinary().subarray(0, 5)), '000082012c');
  assert.match(preimage.conditionUri, /:300$/);
  assert.equal(toHex(preimage.conditionBinary.subarray(-3)), '02012c');
});

test('BIGCHAINDB_TYPE_IDS, and restricting parsing to them reaches nested types', () => {
  assert.deepEqual(BIGCHAINDB_TYPE_IDS, [0, 2, 4, 98, 99]);
  const prefix = new PrefixSha256Fulfillment('p', new PreimageSha256Fulfillment('x'));
  const threshold = new ThresholdSha256Fulfillment(1);
  threshold.addSubfulfillment(prefix);
  const options = { allowedTypeIds: BIGCHAINDB_TYPE_IDS };
  assert.ok(Fulfillment.fromUri(threshold.serializeUri()) instanceof ThresholdSha256Fulfillment);
  for (const parse of [
    () => Fulfillment.fromUri(threshold.serializeUri(), options),
    () => Fulfillment.fromBinary(threshold.serializeBinary(), options),
    () => Fulfillment.fromDict(threshold.toDict(), options),
    () => Fulfillment.fromUri(prefix.serializeUri(), options),
  ]) {
    assert.throws(parse, { name: 'UnsupportedTypeError' });
  }
  const uri = threshold.serializeUri();
  assert.equal(validateFulfillment(uri, threshold.conditionUri, 'm'), true);
  assert.equal(validateFulfillment(uri, threshold.conditionUri, 'm', undefined, options), false);
  // bare sub-conditions are data: any type is accepted
  const withCondition = new ThresholdSha256Fulfillment(1);
  withCondition.addSubfulfillment(new PreimageSha256Fulfillment('x'));
  withCondition.addSubcondition(prefix.condition);
  assert.equal(
    Fulfillment.fromUri(withCondition.serializeUri(), options).conditionUri,
    withCondition.conditionUri,
  );
});
