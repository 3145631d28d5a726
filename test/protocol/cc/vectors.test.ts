import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex } from '../../../src/protocol/bytes.ts';
import {
  Condition,
  Ed25519Fulfillment,
  Fulfillment,
  PreimageSha256Fulfillment,
  ThresholdSha256Fulfillment,
} from '../../../src/protocol/cc/index.ts';
import { thresholdMaxFulfillmentLength } from '../../../src/protocol/cc/threshold-sha256.ts';
import { buildFromSpec, vectors, type Vector } from './helpers.ts';

type Outputs = NonNullable<Vector['outputs']>;

function assertCondition(condition: Condition, outputs: Outputs): void {
  assert.equal(condition.serializeUri(), outputs.condition_uri);
  assert.equal(toHex(condition.serializeBinary()), outputs.condition_binary_hex);
  assert.equal(condition.typeId, outputs.type_id);
  assert.equal(condition.bitmask, outputs.bitmask);
  assert.equal(toHex(condition.hash), outputs.fingerprint_hex);
  assert.equal(condition.maxFulfillmentLength, outputs.max_fulfillment_length);
  assert.equal(Condition.fromUri(outputs.condition_uri).serializeUri(), outputs.condition_uri);
  assert.equal(
    toHex(Condition.fromBinary(condition.serializeBinary()).serializeBinary()),
    outputs.condition_binary_hex,
  );
}

/** The five-bells number only differs for weights ≠ 1; every vector threshold has weight-1 subs. */
function assertFiveBellsLength(body: Fulfillment | Condition, outputs: Outputs): void {
  if (outputs.max_fulfillment_length_five_bells_js_rule === undefined) return;
  assert.ok(body instanceof ThresholdSha256Fulfillment);
  const subconditions = body.subconditions.map(({ body: sub, weight }) => ({
    weight,
    condition: sub instanceof Condition ? sub : sub.condition,
  }));
  assert.equal(
    thresholdMaxFulfillmentLength(body.threshold, subconditions, 'five-bells-3'),
    outputs.max_fulfillment_length_five_bells_js_rule,
  );
}

test('the vector file has the 40 documented entries', () => {
  assert.equal(vectors.length, 40);
  const kinds = new Set(vectors.map((v) => v.kind));
  assert.deepEqual([...kinds].sort(), ['condition', 'condition+fulfillment', 'fulfillment']);
});

for (const [index, vector] of vectors.entries()) {
  const label = `vector ${index} (${vector.kind}, ${vector.name ?? vector.source})`;

  if (vector.kind === 'condition') {
    test(label, () => {
      const details = vector.inputs?.details;
      if (details && vector.outputs) {
        // From the printed details dict and from the normalized spec tree: both must give the outputs.
        const fromDetails = Fulfillment.fromDict(details);
        assertCondition(fromDetails.condition, vector.outputs);
        assert.deepEqual(fromDetails.toDict(), details);
        assertFiveBellsLength(fromDetails, vector.outputs);
        const fromSpec = buildFromSpec(vector.inputs!.spec!);
        assert.ok(fromSpec instanceof Fulfillment);
        assertCondition(fromSpec.condition, vector.outputs);
        if (vector.reproduced) assert.equal(vector.outputs.condition_uri, vector.expected_condition_uri);
        else assert.notEqual(vector.outputs.condition_uri, vector.expected_condition_uri, vector.note);
      } else {
        // Printed URI only (hashlock, placeholder template): it parses and re-serializes identically.
        const uri = vector.expected_condition_uri!;
        assert.equal(Condition.fromUri(uri).serializeUri(), uri);
        if (vector.reproduced) {
          assert.equal(new PreimageSha256Fulfillment('much secret! wow!').conditionUri, uri, vector.note);
        }
      }
    });
  }

  if (vector.kind === 'fulfillment') {
    test(label, () => {
      const uri = vector.fulfillment_uri!;
      const fulfillment = Fulfillment.fromUri(uri);
      assert.equal(fulfillment.conditionUri, vector.derived_condition_uri);
      assert.equal(fulfillment.serializeUri(), uri);
      assert.equal(Fulfillment.fromBinary(fulfillment.serializeBinary()).serializeUri(), uri);
      if (vector.payload_hex) assert.equal(toHex(fulfillment.serializePayload()), vector.payload_hex);
      if (vector.input_condition_uri_in_seed) {
        assert.equal(
          fulfillment.conditionUri === vector.input_condition_uri_in_seed,
          vector.matches_input_condition,
        );
      }
      if (fulfillment instanceof Ed25519Fulfillment) {
        assert.equal(fulfillment.publicKeyBase58, vector.signer_public_key_b58);
      }
      if (vector.signature_verified) {
        assert.equal(fulfillment.validate(vector.signed_message_utf8), true);
        assert.equal(fulfillment.validate(vector.signed_message_utf8! + ' '), false);
      }
    });
  }

  if (vector.kind === 'condition+fulfillment') {
    test(label, () => {
      const outputs = vector.outputs!;
      const inputs = vector.inputs!;
      const body = inputs.spec
        ? buildFromSpec(inputs.spec)
        : new PreimageSha256Fulfillment(inputs.preimage_utf8);
      assert.ok(body instanceof Fulfillment);
      assertCondition(body.condition, outputs);
      assertFiveBellsLength(body, outputs);
      if (vector.expected_condition_uri) assert.equal(outputs.condition_uri, vector.expected_condition_uri);
      if (outputs.fulfillment_uri === undefined) return; // a prefix over a bare condition: nothing to fulfill
      assert.equal(body.serializeUri(), outputs.fulfillment_uri);
      assert.equal(toHex(body.serializePayload()), outputs.fulfillment_payload_hex);
      assert.equal(toHex(body.serializeBinary()), outputs.fulfillment_binary_hex);
      if (vector.expected_fulfillment_uri) {
        assert.equal(outputs.fulfillment_uri, vector.expected_fulfillment_uri);
      }
      const parsed = Fulfillment.fromUri(outputs.fulfillment_uri);
      assert.equal(parsed.conditionUri, outputs.condition_uri);
      assert.equal(parsed.serializeUri(), outputs.fulfillment_uri);
      assert.equal(parsed.validate(inputs.message_utf8 ?? undefined), outputs.valid_mycc);
    });
  }
}

test('the seed 2-of-3 fulfillment finds its signers by key', () => {
  const vector = vectors.find((v) => v.fulfillment_uri?.startsWith('cf:2:'))!;
  const threshold = Fulfillment.fromUri(vector.fulfillment_uri!);
  assert.ok(threshold instanceof ThresholdSha256Fulfillment);
  const [signer] = threshold.getSubconditionFromVk('8NaGq26YMcEvj8Sc5MnqspKzFTQd1eZBAuuPDw4ERHpz');
  assert.ok(signer?.signature);
  assert.deepEqual(threshold.getSubconditionFromVk('Cx4jWSGci7fw6z5QyeApCijbwnMpyuhp4C1kzuFc3XrM'), []);
});
