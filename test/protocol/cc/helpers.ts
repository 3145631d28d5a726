import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { concatBytes, fromHex, utf8 } from '../../../src/protocol/bytes.ts';
import {
  Condition,
  Ed25519Fulfillment,
  Fulfillment,
  InvertedThresholdSha256Fulfillment,
  PrefixSha256Fulfillment,
  PreimageSha256Fulfillment,
  ThresholdSha256Fulfillment,
  TimeoutFulfillment,
  MAX_THRESHOLD,
  type FulfillmentDetails,
} from '../../../src/protocol/cc/index.ts';

/** One entry of test/vectors/crypto-conditions.json (spec §12); every field is optional by kind. */
export interface Vector {
  kind: 'condition' | 'fulfillment' | 'condition+fulfillment';
  source: string;
  name?: string;
  note?: string;
  reproduced?: boolean;
  expected_condition_uri?: string;
  expected_fulfillment_uri?: string;
  inputs?: {
    details?: FulfillmentDetails | null;
    spec?: Spec;
    message_utf8?: string | null;
    preimage_utf8?: string;
  };
  outputs?: {
    condition_uri: string;
    condition_binary_hex: string;
    type_id: number;
    bitmask: number;
    fingerprint_hex: string;
    max_fulfillment_length: number;
    max_fulfillment_length_five_bells_js_rule?: number;
    fulfillment_uri?: string;
    fulfillment_payload_hex?: string;
    fulfillment_binary_hex?: string;
    valid_mycc?: boolean;
  };
  fulfillment_uri?: string;
  derived_condition_uri?: string;
  payload_hex?: string;
  reserialized_identical?: boolean;
  signer_public_key_b58?: string;
  signature_verified?: boolean;
  signed_message_utf8?: string;
  input_condition_uri_in_seed?: string;
  matches_input_condition?: boolean;
}

/** The vectors' normalized tree (spec §12 "Spec node types"). */
export type Spec =
  | { type: 'ed25519'; public_key_b58: string; weight?: number }
  | { type: 'ed25519'; private_key_hex: string; message_utf8: string; weight?: number }
  | { type: 'preimage'; preimage_hex: string; weight?: number }
  | { type: 'timeout'; expire_time: string; weight?: number }
  | { type: 'threshold' | 'inverted-threshold'; threshold: number; subs: Spec[]; weight?: number }
  | { type: 'condition'; uri: string; weight?: number }
  | { type: 'condition_of'; spec: Spec; weight?: number }
  | { type: 'fulfillment'; uri: string; weight?: number }
  | { type: 'prefix'; prefix_hex: string; sub: Spec; weight?: number };

// Kept in the repository (test/vectors/README.md says where they came from), read relative to this file.
export const vectors: Vector[] = JSON.parse(
  readFileSync(new URL('../../vectors/crypto-conditions.json', import.meta.url), 'utf8'),
) as Vector[];

export function buildFromSpec(spec: Spec): Fulfillment | Condition {
  switch (spec.type) {
    case 'ed25519': {
      if ('public_key_b58' in spec) return new Ed25519Fulfillment(spec.public_key_b58);
      const fulfillment = new Ed25519Fulfillment();
      fulfillment.sign(spec.message_utf8, fromHex(spec.private_key_hex));
      return fulfillment;
    }
    case 'preimage':
      return new PreimageSha256Fulfillment(fromHex(spec.preimage_hex));
    case 'timeout':
      return new TimeoutFulfillment(spec.expire_time);
    case 'threshold':
    case 'inverted-threshold': {
      const threshold =
        spec.type === 'threshold'
          ? new ThresholdSha256Fulfillment(spec.threshold)
          : new InvertedThresholdSha256Fulfillment(spec.threshold);
      for (const sub of spec.subs) {
        const body = buildFromSpec(sub);
        if (body instanceof Condition) threshold.addSubcondition(body, sub.weight ?? 1);
        else threshold.addSubfulfillment(body, sub.weight ?? 1);
      }
      return threshold;
    }
    case 'condition':
      return Condition.fromUri(spec.uri);
    case 'condition_of': {
      const body = buildFromSpec(spec.spec);
      return body instanceof Condition ? body : body.condition;
    }
    case 'fulfillment':
      return Fulfillment.fromUri(spec.uri);
    case 'prefix':
      return new PrefixSha256Fulfillment(fromHex(spec.prefix_hex), buildFromSpec(spec.sub));
  }
}

/** `UINT16 type ‖ VARBYTES payload`, written by hand for hostile-input tests (no checks at all). */
export function fulfillmentBinary(typeId: number, payload: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(typeId >> 8, typeId & 0xff, ...lengthPrefix(payload.length)), payload);
}

export function lengthPrefix(length: number): number[] {
  if (length <= 127) return [length];
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return [0x80 | bytes.length, ...bytes];
}

/** A random structure for property tests: what to build, not yet built (keys are seeds, signing comes later). */
export type TreeSpec =
  | { kind: 'ed25519'; seed: Uint8Array; signsOtherMessage: boolean }
  | { kind: 'preimage'; preimage: Uint8Array }
  | { kind: 'prefix'; prefix: Uint8Array; sub: TreeSpec }
  | {
      kind: 'threshold';
      threshold: number;
      subs: { weight: number; asCondition: boolean; spec: TreeSpec }[];
    };

export const OTHER_MESSAGE = utf8('some other message');

// A few fixed keys besides random ones, so that repeated keys (and repeated conditions) occur.
const KEY_POOL = [1, 2, 3].map((n) => new Uint8Array(32).fill(n));

export interface TreeOptions {
  /** nesting levels below the root (0: the root is a leaf or a flat threshold of leaves) */
  depth: number;
  weight: fc.Arbitrary<number>;
  /** preimages that are UTF-8 text (needed for the dict form) */
  textPreimages?: boolean;
}

export function treeArbitrary(options: TreeOptions): fc.Arbitrary<TreeSpec> {
  const preimage = options.textPreimages
    ? fc.string({ maxLength: 200 }).map(utf8)
    : fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 120, maxLength: 300 }));
  const leaf: fc.Arbitrary<TreeSpec> = fc.oneof(
    fc.record({
      kind: fc.constant('ed25519' as const),
      seed: fc.oneof(fc.constantFrom(...KEY_POOL), fc.uint8Array({ minLength: 32, maxLength: 32 })),
      signsOtherMessage: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('preimage' as const), preimage }),
  );
  const prefixOver = (sub: fc.Arbitrary<TreeSpec>): fc.Arbitrary<TreeSpec> =>
    fc.record({ kind: fc.constant('prefix' as const), prefix: fc.uint8Array({ maxLength: 140 }), sub });
  const thresholdOver = (sub: fc.Arbitrary<TreeSpec>): fc.Arbitrary<TreeSpec> =>
    fc
      .array(fc.record({ weight: options.weight, asCondition: fc.nat(4).map((n) => n === 0), spec: sub }), {
        minLength: 1,
        maxLength: 3,
      })
      .chain((subs) => {
        const total = subs.reduce((sum, s) => sum + s.weight, 0);
        return fc
          .integer({ min: 1, max: Math.min(total, MAX_THRESHOLD) })
          .map((threshold): TreeSpec => ({ kind: 'threshold', threshold, subs }));
      });
  const node = (depth: number): fc.Arbitrary<TreeSpec> =>
    depth === 0
      ? fc.oneof(leaf, prefixOver(leaf))
      : fc.oneof(leaf, prefixOver(node(depth - 1)), thresholdOver(node(depth - 1)));
  return fc.oneof(
    { arbitrary: node(options.depth), weight: 1 },
    { arbitrary: thresholdOver(node(options.depth)), weight: 3 },
  );
}

/** Builds our objects, signing over `message`; entries that cannot be fulfilled are added as conditions. */
export function buildTree(spec: TreeSpec, message: Uint8Array): Fulfillment {
  switch (spec.kind) {
    case 'ed25519': {
      const fulfillment = new Ed25519Fulfillment();
      fulfillment.sign(spec.signsOtherMessage ? OTHER_MESSAGE : message, spec.seed);
      return fulfillment;
    }
    case 'preimage':
      return new PreimageSha256Fulfillment(spec.preimage);
    case 'prefix': {
      const sub = buildTree(spec.sub, concatBytes(spec.prefix, message));
      return new PrefixSha256Fulfillment(spec.prefix, sub.isFulfilled ? sub : sub.condition);
    }
    case 'threshold': {
      const threshold = new ThresholdSha256Fulfillment(spec.threshold);
      for (const { weight, asCondition, spec: subSpec } of spec.subs) {
        const sub = buildTree(subSpec, message);
        if (!asCondition && sub.isFulfilled) threshold.addSubfulfillment(sub, weight);
        else threshold.addSubcondition(sub.condition, weight);
      }
      return threshold;
    }
  }
}
