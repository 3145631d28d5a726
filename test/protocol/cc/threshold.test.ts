import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base58Encode } from '../../../src/protocol/base58.ts';
import { publicKeyFromPrivate } from '../../../src/protocol/crypto.ts';
import {
  Condition,
  CryptoConditionError,
  Ed25519Fulfillment,
  Fulfillment,
  InvalidTimeError,
  InvertedThresholdSha256Fulfillment,
  MissingDataError,
  PreimageSha256Fulfillment,
  ThresholdSha256Fulfillment,
  TimeoutFulfillment,
  validateFulfillment,
} from '../../../src/protocol/cc/index.ts';
import { thresholdMaxFulfillmentLength } from '../../../src/protocol/cc/threshold-sha256.ts';

const MESSAGE = 'transfer asset 42';
const seeds = [1, 2, 3, 4].map((n) => base58Encode(new Uint8Array(32).fill(n)));
const [A, B, C, D] = seeds as [string, string, string, string];

function signed(privateKey: string, message = MESSAGE): Ed25519Fulfillment {
  const fulfillment = new Ed25519Fulfillment();
  fulfillment.sign(message, privateKey);
  return fulfillment;
}

function unsigned(privateKey: string): Ed25519Fulfillment {
  return new Ed25519Fulfillment(publicKeyFromPrivate(privateKey));
}

/** Serialize, parse back, check the parsed fulfillment still matches `condition`, then validate it. */
function roundTripValidate(
  fulfillment: Fulfillment,
  condition: string,
  message = MESSAGE,
  now?: string,
): boolean {
  const parsed = Fulfillment.fromUri(fulfillment.serializeUri());
  assert.equal(parsed.conditionUri, condition);
  return parsed.validate(message, now);
}

/** A threshold whose entries are signed (keys in `signers`) or bare conditions (the rest). */
function thresholdOf(
  threshold: number,
  entries: [string, number][],
  signers: string[],
): ThresholdSha256Fulfillment {
  const fulfillment = new ThresholdSha256Fulfillment(threshold);
  for (const [key, weight] of entries) {
    if (signers.includes(key)) fulfillment.addSubfulfillment(signed(key), weight);
    else fulfillment.addSubcondition(unsigned(key).condition, weight);
  }
  return fulfillment;
}

test('weighted threshold 3 over weights 2,1,1 validates by the real weights (PROTOCOL R5, not 0.4.1)', () => {
  const entries: [string, number][] = [
    [A, 2],
    [B, 1],
    [C, 1],
  ];
  const condition = thresholdOf(3, entries, []).conditionUri;
  // A+B: parsed order puts the weight-1 entry first, so 0.4.1's running minimum (1 + 1 = 2 < 3) rejected it.
  assert.equal(roundTripValidate(thresholdOf(3, entries, [A, B]), condition), true);
  assert.equal(roundTripValidate(thresholdOf(3, entries, [A, C]), condition), true);
  assert.equal(roundTripValidate(thresholdOf(3, entries, [A, B, C]), condition), true);
  assert.equal(thresholdOf(3, entries, [A]).validate(MESSAGE), false);
  assert.equal(thresholdOf(3, entries, [B, C]).validate(MESSAGE), false);
  assert.throws(() => thresholdOf(3, entries, [B, C]).serializeUri(), MissingDataError);
});

test('m-of-n: every subset of signers, valid iff it has at least m members', () => {
  const keys = [A, B, C];
  for (const m of [1, 2, 3]) {
    const entries = keys.map((key): [string, number] => [key, 1]);
    const condition = thresholdOf(m, entries, []).conditionUri;
    for (let mask = 0; mask < 8; mask++) {
      const signers = keys.filter((_, i) => mask & (1 << i));
      const fulfillment = thresholdOf(m, entries, signers);
      if (signers.length >= m) assert.equal(roundTripValidate(fulfillment, condition), true);
      else {
        assert.equal(fulfillment.validate(MESSAGE), false);
        assert.throws(() => fulfillment.serializeUri(), MissingDataError);
      }
      // The condition never depends on who signed, nor on insertion order.
      assert.equal(fulfillment.conditionUri, condition);
      assert.equal(thresholdOf(m, [...entries].reverse(), signers).conditionUri, condition);
    }
  }
  // mfl of the seed numbers: 1-of-3 186, 2-of-3 246, 3-of-3 306 (> 255: a two-byte VARUINT in the binary)
  const oneOfEach: [string, number][] = [
    [A, 1],
    [B, 1],
    [C, 1],
  ];
  assert.match(thresholdOf(1, oneOfEach, []).conditionUri, /:186$/);
  assert.match(thresholdOf(2, oneOfEach, []).conditionUri, /:246$/);
  const threeOfThree = thresholdOf(3, oneOfEach, []).condition;
  assert.equal(threeOfThree.maxFulfillmentLength, 306);
  assert.deepEqual([...threeOfThree.serializeBinary().subarray(-3)], [0x02, 0x01, 0x32]);
});

test('the same key twice counts once toward one threshold (PROTOCOL R5)', () => {
  const twice = new ThresholdSha256Fulfillment(2);
  twice.addSubfulfillment(signed(A));
  twice.addSubfulfillment(signed(A));
  assert.equal(roundTripValidate(twice, twice.conditionUri), false);

  const entries: [string, number][] = [
    [A, 1],
    [A, 1],
    [B, 1],
  ];
  const withB = thresholdOf(2, entries, [A, B]);
  assert.equal(withB.validate(MESSAGE), true);
  assert.equal(
    thresholdOf(
      2,
      [
        [A, 1],
        [A, 1],
      ],
      [A],
    ).validate(MESSAGE),
    false,
  );

  // Different weights on the same key: its largest valid weight counts, once.
  const weighted = new ThresholdSha256Fulfillment(3);
  weighted.addSubfulfillment(signed(A), 2);
  weighted.addSubfulfillment(signed(A), 1);
  weighted.addSubcondition(unsigned(B).condition, 1);
  assert.equal(weighted.validate(MESSAGE), false);
  weighted.subconditions[2] = { type: 'fulfillment', body: signed(B), weight: 1 };
  assert.equal(weighted.validate(MESSAGE), true);
});

test('invalid sub-fulfillments are not counted but tolerated (0.4.1), surplus ones are not serialized', () => {
  const fulfillment = new ThresholdSha256Fulfillment(2);
  fulfillment.addSubfulfillment(signed(A));
  fulfillment.addSubfulfillment(signed(B, 'another message'));
  fulfillment.addSubfulfillment(signed(C));
  assert.equal(fulfillment.validate(MESSAGE), true);
  // The serializer keeps the first two in insertion order, one of which is the bad signature.
  assert.equal(roundTripValidate(fulfillment, fulfillment.conditionUri), false);
});

test('unsigned Ed25519 sub-fulfillments are written as their conditions', () => {
  const fulfillment = new ThresholdSha256Fulfillment(1);
  fulfillment.addSubfulfillment(unsigned(A));
  fulfillment.addSubfulfillment(signed(B));
  const parsed = Fulfillment.fromUri(fulfillment.serializeUri());
  assert.ok(parsed instanceof ThresholdSha256Fulfillment);
  assert.deepEqual(
    parsed.subconditions.map((entry) => entry.type),
    ['condition', 'fulfillment'],
  );
  assert.equal(parsed.conditionUri, fulfillment.conditionUri);
});

test('a threshold without enough fulfilled weight still has a condition and a dict, but no fulfillment', () => {
  const fulfillment = thresholdOf(
    2,
    [
      [A, 1],
      [B, 1],
    ],
    [A],
  );
  assert.equal(fulfillment.isFulfilled, false);
  assert.match(fulfillment.conditionUri, /^cc:2:29:[\w-]{43}:206$/);
  assert.equal(Fulfillment.fromDict(fulfillment.toDict()).conditionUri, fulfillment.conditionUri);
  assert.throws(() => fulfillment.serializeUri(), MissingDataError);
  assert.throws(() => fulfillment.serializeBinary(), CryptoConditionError);
  assert.throws(() => new ThresholdSha256Fulfillment(1).conditionUri, MissingDataError);
  const unsatisfiable = new ThresholdSha256Fulfillment(3);
  unsatisfiable.addSubcondition(unsigned(A).condition, 2);
  assert.throws(() => unsatisfiable.conditionUri, MissingDataError);
});

test('max fulfillment length: the 0.4.1 rule for weights ≠ 1 (five-bells rule kept for comparison)', () => {
  // spec §5.3: threshold 2 with one weight-2 Ed25519 gives 108 in Python, 110 in JS
  const fulfillment = new ThresholdSha256Fulfillment(2);
  fulfillment.addSubcondition(unsigned(A).condition, 2);
  assert.equal(fulfillment.condition.maxFulfillmentLength, 108);
  const subconditions = [{ weight: 2, condition: unsigned(A).condition }];
  assert.equal(thresholdMaxFulfillmentLength(2, subconditions, 'five-bells-3'), 110);
});

test('large thresholds and weights stay fast (the library recursions were exponential)', () => {
  const fulfillment = new ThresholdSha256Fulfillment(1000);
  const keys = Array.from({ length: 40 }, (_, i) => new Ed25519Fulfillment(new Uint8Array(32).fill(i + 1)));
  keys.forEach((key, i) => fulfillment.addSubcondition(key.condition, 25 + i));
  const started = performance.now();
  assert.ok(fulfillment.condition.maxFulfillmentLength > 0);
  assert.ok(performance.now() - started < 500);
});

test('inverted threshold over a timeout: valid only after expiry', () => {
  const inverted = new InvertedThresholdSha256Fulfillment(1);
  inverted.addSubfulfillment(new TimeoutFulfillment('1464242352.227917'));
  assert.equal(inverted.serializeUri(), 'cf:62:AQEBAQEBFABjETE0NjQyNDIzNTIuMjI3OTE3AA');
  assert.equal(inverted.conditionUri, 'cc:62:9:XnXBxrpdphfBFYs6OGcEeGvUjeVK1gf-sRnF-vS4H6w:27');
  assert.equal(inverted.validate('', '1464242352'), false);
  assert.equal(inverted.validate('', '1464242352.227917'), false);
  assert.equal(inverted.validate('', '1464242353'), true);
  const timeout = new TimeoutFulfillment('1464167910.643431');
  assert.equal(timeout.conditionUri, 'cc:63:9:sceU_NZc3cAjAvaR1TVmgj7am5y8hJEBoqLm-tbqGbQ:17');
  assert.equal(timeout.serializeUri(), 'cf:63:MTQ2NDE2NzkxMC42NDM0MzE');
});

test('escrow: 1-of-2[2-of-2[execute, timeout], 2-of-2[abort, inverted 1-of-1[timeout]]], all four outcomes', () => {
  const expireTime = '1464242352.227917';
  const [before, after] = ['1464242350', '1464242360'];
  const [executeKey, abortKey] = [A, B];

  function branch(key: string, sign: boolean, inverted: boolean): ThresholdSha256Fulfillment {
    const branchFulfillment = new ThresholdSha256Fulfillment(2);
    branchFulfillment.addSubfulfillment(sign ? signed(key) : unsigned(key));
    const timeout = new TimeoutFulfillment(expireTime);
    if (inverted) {
      const invertedTimeout = new InvertedThresholdSha256Fulfillment(1);
      invertedTimeout.addSubfulfillment(timeout);
      branchFulfillment.addSubfulfillment(invertedTimeout);
    } else branchFulfillment.addSubfulfillment(timeout);
    return branchFulfillment;
  }

  function escrow(fulfilled: 'execute' | 'abort' | 'none'): ThresholdSha256Fulfillment {
    const executeBranch = branch(executeKey, fulfilled === 'execute', false);
    const abortBranch = branch(abortKey, fulfilled === 'abort', true);
    const root = new ThresholdSha256Fulfillment(1);
    if (fulfilled === 'execute') root.addSubfulfillment(executeBranch);
    else root.addSubcondition(executeBranch.condition);
    if (fulfilled === 'abort') root.addSubfulfillment(abortBranch);
    else root.addSubcondition(abortBranch.condition);
    return root;
  }

  const condition = escrow('none').conditionUri;
  assert.match(condition, /^cc:2:29:[\w-]{43}:188$/);
  const execute = escrow('execute').serializeUri();
  const abort = escrow('abort').serializeUri();
  assert.equal(validateFulfillment(execute, condition, MESSAGE, before), true);
  assert.equal(validateFulfillment(execute, condition, MESSAGE, after), false);
  assert.equal(validateFulfillment(abort, condition, MESSAGE, before), false);
  assert.equal(validateFulfillment(abort, condition, MESSAGE, after), true);
  assert.equal(validateFulfillment(execute, condition, 'another message', before), false);
  assert.equal(
    validateFulfillment(execute, escrow('none').subconditions[0]!.body.serializeUri(), MESSAGE),
    false,
  );
});

test('getSubconditionFromVk returns the live Ed25519 objects, through nested thresholds', () => {
  const inner = new InvertedThresholdSha256Fulfillment(1);
  inner.addSubfulfillment(unsigned(B));
  inner.addSubfulfillment(unsigned(C));
  const root = new ThresholdSha256Fulfillment(2);
  root.addSubfulfillment(unsigned(A));
  root.addSubfulfillment(unsigned(B));
  root.addSubfulfillment(inner);
  root.addSubcondition(unsigned(D).condition);
  const condition = root.conditionUri;

  const parsed = Fulfillment.fromDict(root.toDict());
  assert.ok(parsed instanceof ThresholdSha256Fulfillment);
  const bKey = publicKeyFromPrivate(B);
  assert.equal(parsed.getSubconditionFromVk(bKey).length, 2);
  assert.deepEqual(parsed.getSubconditionFromVk(publicKeyFromPrivate(D)), []);
  assert.deepEqual(parsed.getSubconditionFromVk('not base58 0OIl'), []);
  // BigchainDB's signing flow: sign the objects found by key, then serialize the whole structure.
  for (const key of [A, B]) {
    for (const fulfillment of parsed.getSubconditionFromVk(publicKeyFromPrivate(key)))
      fulfillment.sign(MESSAGE, key);
  }
  assert.equal(roundTripValidate(parsed, condition), true);
});

test('addSubcondition / addSubfulfillment accept URIs', () => {
  const fulfillment = new ThresholdSha256Fulfillment(1);
  fulfillment.addSubcondition(unsigned(A).conditionUri);
  fulfillment.addSubfulfillment(signed(B).serializeUri());
  assert.ok(fulfillment.subconditions[0]!.body instanceof Condition);
  assert.ok(fulfillment.subconditions[1]!.body instanceof Ed25519Fulfillment);
  assert.equal(roundTripValidate(fulfillment, fulfillment.conditionUri), true);
  assert.throws(() => fulfillment.addSubcondition('cc:nope'), CryptoConditionError);
  assert.throws(() => fulfillment.addSubfulfillment(signed(C), 0), CryptoConditionError);
  assert.throws(() => fulfillment.addSubfulfillment(signed(C), 1.5), CryptoConditionError);
  assert.throws(() => new ThresholdSha256Fulfillment(0), CryptoConditionError);
});

test('a malformed `now` reaching a timeout throws InvalidTimeError', () => {
  const timeout = new TimeoutFulfillment('1464242352');
  for (const now of [
    undefined,
    '',
    '146424235',
    '14642423520',
    '1464242352.',
    ' 1464242352',
    '1464242352.5x',
    'abc',
  ]) {
    assert.throws(() => timeout.validate('', now), InvalidTimeError, String(now));
  }
  const threshold = new ThresholdSha256Fulfillment(1);
  threshold.addSubfulfillment(timeout);
  assert.throws(() => threshold.validate('', '1.5'), InvalidTimeError);
  assert.throws(
    () => validateFulfillment(threshold.serializeUri(), threshold.conditionUri, '', 'now'),
    InvalidTimeError,
  );
  assert.throws(() => new TimeoutFulfillment('1464242352,5'), InvalidTimeError);
  // without a timeout in the structure `now` is never looked at
  assert.equal(new PreimageSha256Fulfillment('x').validate('', 'whatever'), true);
});

test('Ed25519: empty message or missing signature is invalid, never an exception', () => {
  const emptySigned = signed(A, '');
  assert.equal(emptySigned.validate(''), false);
  assert.equal(emptySigned.validate(new Uint8Array(0)), false);
  assert.equal(unsigned(A).validate(MESSAGE), false);
  const tampered = signed(A);
  tampered.signature = new Uint8Array(64);
  assert.equal(tampered.validate(MESSAGE), false);
  assert.equal(signed(A).validate(new TextEncoder().encode(MESSAGE)), true);
  assert.throws(() => unsigned(A).serializeUri(), MissingDataError);
  assert.throws(() => new Ed25519Fulfillment().conditionUri, MissingDataError);
  assert.throws(() => new Ed25519Fulfillment().sign(MESSAGE, 'short'), CryptoConditionError);
});
