/**
 * five-bells-condition 3.3.1 as an independent oracle. Where the two intentionally differ:
 * - max fulfillment length with weights ≠ 1: BigchainDB URIs carry the cryptoconditions 0.4.1 formula (ascending
 *   weights, VARUINT weight term), five-bells sorts descending and counts 4 bytes per weight. Flat weighted
 *   thresholds are compared with our implementation of the five-bells formula; once a weighted threshold is
 *   nested, the parent's fingerprint covers that length, so nested weighted structures are not compared.
 * - validity: five-bells throws unless the supplied set is minimal and every sub-fulfillment is valid; we count
 *   the valid ones (0.4.1) and count a repeated sub-condition once (PROTOCOL R5). With weight 1 and no repeated
 *   sibling conditions the serialized (smallest) set makes both agree; with weights only "five-bells valid ⇒
 *   valid" holds (its minimality rule even rejects some of its own serializations).
 * - an Ed25519 fulfillment over an empty message is invalid here (0.4.1), valid in five-bells.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import cc from 'five-bells-condition';
import { utf8 } from '../../../src/protocol/bytes.ts';
import {
  Condition,
  Ed25519Fulfillment,
  Fulfillment,
  MissingDataError,
  PrefixSha256Fulfillment,
  PreimageSha256Fulfillment,
  ThresholdSha256Fulfillment,
} from '../../../src/protocol/cc/index.ts';
import { thresholdMaxFulfillmentLength } from '../../../src/protocol/cc/threshold-sha256.ts';
import { buildTree, treeArbitrary } from './helpers.ts';

const message = fc.oneof(
  fc.string({ minLength: 1, maxLength: 60 }).map(utf8),
  fc.uint8Array({ minLength: 1 }),
);

function fiveBellsCondition(condition: Condition): cc.Condition {
  return cc.Condition.fromUri(condition.serializeUri());
}

/** The same structure in five-bells objects, key material and signatures copied over. */
function toFiveBells(fulfillment: Fulfillment): cc.Fulfillment {
  if (fulfillment instanceof Ed25519Fulfillment) {
    // key and signature go over through five-bells' own parser
    return cc.Fulfillment.fromUri(fulfillment.serializeUri());
  }
  if (fulfillment instanceof PreimageSha256Fulfillment) {
    const preimage = new cc.PreimageSha256();
    preimage.setPreimage(Buffer.from(fulfillment.preimage));
    return preimage;
  }
  if (fulfillment instanceof PrefixSha256Fulfillment) {
    const prefix = new cc.PrefixSha256();
    prefix.setPrefix(Buffer.from(fulfillment.prefix));
    const sub = fulfillment.subcondition!;
    if (sub instanceof Condition) prefix.setSubcondition(fiveBellsCondition(sub));
    else prefix.setSubfulfillment(toFiveBells(sub));
    return prefix;
  }
  assert.ok(fulfillment instanceof ThresholdSha256Fulfillment);
  const threshold = new cc.ThresholdSha256();
  threshold.setThreshold(fulfillment.threshold);
  for (const entry of fulfillment.subconditions) {
    if (entry.type === 'fulfillment') threshold.addSubfulfillment(toFiveBells(entry.body), entry.weight);
    else threshold.addSubcondition(fiveBellsCondition(entry.body), entry.weight);
  }
  return threshold;
}

function fiveBellsValid(fulfillment: cc.Fulfillment, bytes: Uint8Array): boolean {
  try {
    return fulfillment.validate(Buffer.from(bytes));
  } catch {
    return false;
  }
}

/** Whether some threshold in the structure has two fulfilled entries with the same condition. */
function hasRepeatedSiblingConditions(fulfillment: Fulfillment): boolean {
  if (fulfillment instanceof PrefixSha256Fulfillment) {
    const sub = fulfillment.subcondition;
    return sub instanceof Fulfillment && hasRepeatedSiblingConditions(sub);
  }
  if (!(fulfillment instanceof ThresholdSha256Fulfillment)) return false;
  const seen = new Set<string>();
  for (const entry of fulfillment.subconditions) {
    if (entry.type !== 'fulfillment') continue;
    const uri = entry.body.conditionUri;
    if (seen.has(uri) || hasRepeatedSiblingConditions(entry.body)) return true;
    seen.add(uri);
  }
  return false;
}

test('weight-1 structures (types 0, 1, 2, 4, nested to depth 3): same condition, fulfillment and validity', () => {
  fc.assert(
    fc.property(treeArbitrary({ depth: 2, weight: fc.constant(1) }), message, (spec, bytes) => {
      const ours = buildTree(spec, bytes);
      const theirs = toFiveBells(ours);
      assert.equal(ours.conditionUri, theirs.getConditionUri());
      if (!ours.isFulfilled) {
        assert.throws(() => ours.serializeUri(), MissingDataError);
        return;
      }
      const uri = ours.serializeUri();
      assert.equal(uri, theirs.serializeUri());
      assert.equal(
        Buffer.from(ours.serializeBinary()).toString('hex'),
        theirs.serializeBinary().toString('hex'),
      );
      const ourParsed = Fulfillment.fromUri(uri);
      const theirParsed = cc.Fulfillment.fromUri(uri);
      assert.equal(ourParsed.conditionUri, theirParsed.getConditionUri());
      if (!hasRepeatedSiblingConditions(ourParsed)) {
        assert.equal(ourParsed.validate(bytes), fiveBellsValid(theirParsed, bytes));
      }
    }),
    { numRuns: 200 },
  );
});

test('flat weighted thresholds (weights and thresholds ≥ 256, long preimages): same fingerprint and payload', () => {
  const weight = fc.oneof(
    fc.constant(1),
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 200, max: 70_000 }),
  );
  fc.assert(
    fc.property(treeArbitrary({ depth: 0, weight }), message, (spec, bytes) => {
      const ours = buildTree(spec, bytes);
      const theirs = toFiveBells(ours);
      const condition = ours.condition;
      const theirCondition = theirs.getCondition();
      assert.equal(condition.typeId, theirCondition.getTypeId());
      assert.equal(condition.bitmask, theirCondition.getBitmask());
      assert.equal(Buffer.from(condition.hash).toString('hex'), theirCondition.getHash().toString('hex'));
      if (ours instanceof ThresholdSha256Fulfillment) {
        const subconditions = ours.subconditions.map(({ body, weight: w }) => ({
          weight: w,
          condition: body instanceof Condition ? body : body.condition,
        }));
        const fiveBellsRule = thresholdMaxFulfillmentLength(ours.threshold, subconditions, 'five-bells-3');
        assert.equal(fiveBellsRule, theirCondition.getMaxFulfillmentLength());
        if (ours.subconditions.every((entry) => entry.weight === 1)) {
          assert.equal(condition.maxFulfillmentLength, fiveBellsRule);
        }
      } else assert.equal(ours.conditionUri, theirs.getConditionUri());
      if (!ours.isFulfilled) return;
      const uri = ours.serializeUri();
      assert.equal(uri, theirs.serializeUri());
      const ourParsed = Fulfillment.fromUri(uri);
      assert.equal(ourParsed.conditionUri, ours.conditionUri);
      if (fiveBellsValid(cc.Fulfillment.fromUri(uri), bytes) && !hasRepeatedSiblingConditions(ourParsed)) {
        assert.equal(ourParsed.validate(bytes), true);
      }
    }),
    { numRuns: 150 },
  );
});

test('Ed25519 signing is byte-identical and each side verifies the other', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), message, (seed, bytes) => {
      const ours = new Ed25519Fulfillment();
      ours.sign(bytes, seed);
      const theirs = new cc.Ed25519();
      theirs.sign(Buffer.from(bytes), Buffer.from(seed));
      assert.equal(ours.serializeUri(), theirs.serializeUri());
      assert.equal(ours.conditionUri, theirs.getConditionUri());
      assert.equal(Fulfillment.fromUri(theirs.serializeUri()).validate(bytes), true);
      assert.equal(cc.Fulfillment.fromUri(ours.serializeUri()).validate(Buffer.from(bytes)), true);
    }),
    { numRuns: 25 },
  );
});

test('documented difference: Ed25519 over an empty message', () => {
  const ours = new Ed25519Fulfillment();
  ours.sign('', new Uint8Array(32).fill(7));
  assert.equal(ours.validate(''), false);
  assert.equal(cc.Fulfillment.fromUri(ours.serializeUri()).validate(Buffer.alloc(0)), true);
});
