import { base58Decode } from '../base58.ts';
import { compareBytes, equalBytes, toHex } from '../bytes.ts';
import { sha256 } from '../crypto.ts';
import { Condition, conditionFromDetails } from './condition.ts';
import {
  asRecord,
  readArray,
  readInteger,
  type DetailsRecord,
  type SubfulfillmentDetails,
  type ThresholdSha256Details,
} from './details.ts';
import { Ed25519Fulfillment } from './ed25519.ts';
import { lengthPrefixLength, Reader, varUintLength, Writer } from './encoding.ts';
import { MissingDataError, ParseError } from './errors.ts';
import {
  Fulfillment,
  fulfillmentFromDetails,
  messageBytes,
  nestedContext,
  parseFulfillmentBinary,
  registerFulfillmentType,
  withConditionMemo,
  type Message,
  type ParseContext,
} from './fulfillment.ts';
import { MAX_SUBCONDITIONS, MAX_THRESHOLD, MAX_VARUINT } from './limits.ts';

export type ThresholdEntry =
  | { type: 'fulfillment'; body: Fulfillment; weight: number }
  | { type: 'condition'; body: Condition; weight: number };

interface WeightedCondition {
  weight: number;
  condition: Condition;
}

/** Which library's max-fulfillment-length formula: BigchainDB 0.6 URIs carry the cryptoconditions 0.4.1 one. */
export type MaxFulfillmentLengthRule = 'cryptoconditions-0.4.1' | 'five-bells-3';

/** A lower bound on an entry's size (VARUINT weight, two VARBYTES), to refuse absurd counts up front. */
const MIN_ENTRY_LENGTH = 4;
const EMPTY = new Uint8Array(0);

function checkThreshold(threshold: number): number {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > MAX_THRESHOLD) {
    throw new ParseError(`threshold must be an integer in 1..${MAX_THRESHOLD}, got ${threshold}`, {
      field: 'threshold',
    });
  }
  return threshold;
}

function checkWeight(weight: number): number {
  if (!Number.isInteger(weight) || weight < 1 || weight > MAX_VARUINT) {
    throw new ParseError(`weight must be an integer in 1..${MAX_VARUINT}, got ${weight}`, {
      field: 'weight',
    });
  }
  return weight;
}

/** The spec's "sortBuffers": by length, then unsigned lexicographically. */
function sortBuffers(buffers: Uint8Array[]): Uint8Array[] {
  return buffers.sort((a, b) => a.length - b.length || compareBytes(a, b));
}

/**
 * Max fulfillment length of a threshold (spec §5.3). The constant terms describe an older encoding, the result is
 * not a bound on anything; what matters is reproducing the numbers in existing condition URIs.
 * The library recursions are exponential in the number of subconditions; the same values come from a dynamic
 * program over the remaining threshold, O(subconditions × threshold).
 */
export function thresholdMaxFulfillmentLength(
  threshold: number,
  subconditions: readonly WeightedCondition[],
  rule: MaxFulfillmentLengthRule = 'cryptoconditions-0.4.1',
): number {
  let totalConditionLength = 0;
  let weightBytes = 0;
  const candidates = subconditions.map(({ weight, condition }) => {
    const conditionLength = condition.serializeBinary().length;
    const mfl = condition.maxFulfillmentLength;
    const fulfillmentLength = 2 + lengthPrefixLength(mfl) + mfl;
    totalConditionLength += conditionLength;
    // one "presence" byte per entry, plus the weight when it is not 1
    if (weight === 1) weightBytes += 1;
    else weightBytes += 1 + (rule === 'cryptoconditions-0.4.1' ? varUintLength(weight) : 4);
    return { weight, extra: fulfillmentLength - conditionLength };
  });
  // Stable sort: 0.4.1 orders by ascending weight, five-bells 3.x by descending weight.
  candidates.sort((a, b) => (rule === 'cryptoconditions-0.4.1' ? a.weight - b.weight : b.weight - a.weight));

  // worst[t] = largest Σ extra over the entries seen so far (walked from the end) for remaining threshold t:
  // worst(t, i) = max(extra_i + worst(t - w_i, i + 1), worst(t, i + 1)), 0 once t ≤ 0, -∞ past the end.
  // Updated in place from high t down, so worst[t - weight] still holds the value for index i + 1.
  const worst = new Float64Array(threshold + 1).fill(-Infinity);
  worst[0] = 0;
  for (let i = candidates.length - 1; i >= 0; i--) {
    const { weight, extra } = candidates[i]!;
    for (let t = threshold; t > weight; t--) {
      const included = extra + worst[t - weight]!;
      if (included > worst[t]!) worst[t] = included;
    }
    // including this entry meets the rest of the threshold: worst(≤ 0, ·) = 0
    for (let t = Math.min(weight, threshold); t >= 1; t--) if (extra > worst[t]!) worst[t] = extra;
  }
  if (worst[threshold] === -Infinity) {
    throw new MissingDataError('subcondition weights are insufficient to meet the threshold');
  }
  return 4 + varUintLength(subconditions.length) + weightBytes + totalConditionLength + worst[threshold]!;
}

interface SizedCandidate {
  weight: number;
  /** bytes added when written as a fulfillment */
  size: number;
  /** bytes added when written as a condition */
  omitSize: number;
}

/**
 * Indices (into `candidates`, in insertion order) of the fulfillments to write, exactly as the libraries choose
 * them (spec §5.3): an include/exclude search in order, a branch ending once the threshold is met, "include" kept
 * only if strictly smaller. Its result depends only on (remaining threshold, index), so a table over those
 * replaces the exponential recursion. Undefined when the candidates cannot meet the threshold.
 */
function smallestValidFulfillmentSet(
  threshold: number,
  candidates: readonly SizedCandidate[],
): number[] | undefined {
  const width = threshold + 1;
  const cost = new Float64Array(width).fill(Infinity);
  cost[0] = 0;
  const include = new Uint8Array(candidates.length * width);
  for (let i = candidates.length - 1; i >= 0; i--) {
    const { weight, size, omitSize } = candidates[i]!;
    for (let t = threshold; t >= 1; t--) {
      const withIt = size + cost[Math.max(t - weight, 0)]!;
      const without = omitSize + cost[t]!;
      if (withIt < without) {
        cost[t] = withIt;
        include[i * width + t] = 1;
      } else cost[t] = without;
    }
  }
  if (cost[threshold] === Infinity) return undefined;
  const chosen: number[] = [];
  for (let i = 0, t = threshold; i < candidates.length && t > 0; i++) {
    if (include[i * width + t] === 1) {
      chosen.push(i);
      t = Math.max(t - candidates[i]!.weight, 0);
    }
  }
  return chosen;
}

/**
 * THRESHOLD-SHA-256 (type 2, spec §5.3): m-of-n over weighted sub-fulfillments and sub-conditions, nestable.
 * `subconditions` keeps insertion order, which is what toDict emits (and toDict is hashed into transaction ids);
 * the fingerprint and payload sort their entries, so the order never changes the condition.
 */
export class ThresholdSha256Fulfillment extends Fulfillment {
  static readonly TYPE_ID: number = 2;
  static readonly FEATURE_BITMASK: number = 0x09;

  readonly typeId: number = ThresholdSha256Fulfillment.TYPE_ID;
  threshold: number;
  subconditions: ThresholdEntry[] = [];

  constructor(threshold = 1) {
    super();
    this.threshold = checkThreshold(threshold);
  }

  addSubfulfillment(subfulfillment: Fulfillment | string, weight = 1): void {
    const body = typeof subfulfillment === 'string' ? Fulfillment.fromUri(subfulfillment) : subfulfillment;
    if (!(body instanceof Fulfillment)) {
      throw new ParseError('sub-fulfillment must be a Fulfillment or a cf: URI');
    }
    this.addEntry({ type: 'fulfillment', body, weight: checkWeight(weight) });
  }

  addSubcondition(subcondition: Condition | string, weight = 1): void {
    const body = typeof subcondition === 'string' ? Condition.fromUri(subcondition) : subcondition;
    if (!(body instanceof Condition)) throw new ParseError('sub-condition must be a Condition or a cc: URI');
    this.addEntry({ type: 'condition', body, weight: checkWeight(weight) });
  }

  private addEntry(entry: ThresholdEntry): void {
    if (this.subconditions.length >= MAX_SUBCONDITIONS) {
      throw new ParseError(`a threshold holds at most ${MAX_SUBCONDITIONS} subconditions`);
    }
    this.subconditions.push(entry);
  }

  /** Every Ed25519 sub-fulfillment with this key, searched through nested (inverted) thresholds. */
  getSubconditionFromVk(publicKeyBase58: string): Ed25519Fulfillment[] {
    let key: Uint8Array;
    try {
      key = base58Decode(publicKeyBase58);
    } catch {
      return [];
    }
    const found: Ed25519Fulfillment[] = [];
    const collect = (threshold: ThresholdSha256Fulfillment): void => {
      for (const { body } of threshold.subconditions) {
        if (body instanceof ThresholdSha256Fulfillment) collect(body);
        else if (body instanceof Ed25519Fulfillment && body.publicKey && equalBytes(body.publicKey, key)) {
          found.push(body);
        }
      }
    };
    collect(this);
    return found;
  }

  get bitmask(): number {
    let bitmask = ThresholdSha256Fulfillment.FEATURE_BITMASK;
    for (const { body } of this.subconditions) bitmask = (bitmask | body.bitmask) >>> 0;
    return bitmask;
  }

  /** Derives each sub-condition once (a nested derivation walks its whole subtree). */
  protected override deriveCondition(): Condition {
    const subconditions = this.weightedConditions();
    let bitmask = ThresholdSha256Fulfillment.FEATURE_BITMASK;
    for (const { condition } of subconditions) bitmask = (bitmask | condition.bitmask) >>> 0;
    return new Condition(
      this.typeId,
      bitmask,
      this.fingerprint(subconditions),
      thresholdMaxFulfillmentLength(this.threshold, subconditions),
    );
  }

  generateHash(): Uint8Array {
    return this.fingerprint(this.weightedConditions());
  }

  calculateMaxFulfillmentLength(): number {
    return thresholdMaxFulfillmentLength(this.threshold, this.weightedConditions());
  }

  /** Enough fulfilled weight to serialize (not to validate: signatures are not checked here). */
  override get isFulfilled(): boolean {
    let weight = 0;
    for (const entry of this.subconditions) {
      if (entry.type === 'fulfillment' && entry.body.isFulfilled) {
        weight += entry.weight;
        if (weight >= this.threshold) return true;
      }
    }
    return false;
  }

  /**
   * `VARUINT threshold ‖ VARUINT count ‖ sorted(VARUINT weight ‖ VARBYTES fulfillment ‖ VARBYTES condition)`,
   * writing only the smallest valid set of the supplied fulfillments; the others are written as conditions.
   */
  serializePayload(): Uint8Array {
    return withConditionMemo(() => {
      const entries = this.checkedEntries();
      const fulfilled = entries.flatMap((entry, index) => {
        if (entry.type !== 'fulfillment' || !entry.body.isFulfilled) return [];
        const binary = entry.body.serializeBinary();
        const omitSize = entry.body.conditionBinary.length;
        return [{ index, binary, weight: entry.weight, size: binary.length, omitSize }];
      });
      const chosen = smallestValidFulfillmentSet(this.threshold, fulfilled);
      if (chosen === undefined) {
        throw new MissingDataError('not enough fulfilled weight to meet the threshold: cannot serialize');
      }
      const written = new Map(chosen.map((i) => [fulfilled[i]!.index, fulfilled[i]!.binary]));
      const serialized = entries.map((entry, index) => {
        const writer = new Writer().varUint(entry.weight);
        const binary = written.get(index);
        if (binary !== undefined) return writer.varBytes(binary).varBytes(EMPTY).finish();
        const condition = entry.type === 'fulfillment' ? entry.body.condition : entry.body;
        return writer.varBytes(EMPTY).varBytes(condition.serializeBinary()).finish();
      });
      const writer = new Writer().varUint(this.threshold).varUint(serialized.length);
      for (const entry of sortBuffers(serialized)) writer.bytes(entry);
      return writer.finish();
    });
  }

  /**
   * PROTOCOL R5 (not 0.4.1): the real weights of the valid sub-fulfillments are summed, without 0.4.1's
   * running-minimum quirk, and sub-fulfillments with identical conditions (the same key twice) count once, with
   * their largest weight. Stops as soon as the threshold is met, so surplus signatures are not verified.
   */
  validate(message?: Message, now?: string): boolean {
    const bytes = messageBytes(message);
    return withConditionMemo(() => {
      const counted = new Map<string, number>();
      let total = 0;
      for (const entry of this.subconditions) {
        if (entry.type !== 'fulfillment') continue;
        const key = toHex(entry.body.conditionBinary);
        const already = counted.get(key) ?? 0;
        if (entry.weight <= already || !entry.body.validate(bytes, now)) continue;
        counted.set(key, entry.weight);
        total += entry.weight - already;
        if (total >= this.threshold) return true;
      }
      return false;
    });
  }

  toDict(): ThresholdSha256Details {
    return {
      type: 'fulfillment',
      type_id: this.typeId as 2 | 98,
      bitmask: this.bitmask,
      threshold: this.threshold,
      subfulfillments: this.subconditions.map(({ body, weight }): SubfulfillmentDetails => ({
        ...body.toDict(),
        weight,
      })),
    };
  }

  /** The public fields are mutable, so they are checked again before anything is derived from them. */
  private checkedEntries(): ThresholdEntry[] {
    checkThreshold(this.threshold);
    if (this.subconditions.length === 0) throw new MissingDataError('threshold has no subconditions');
    if (this.subconditions.length > MAX_SUBCONDITIONS) {
      throw new ParseError(`a threshold holds at most ${MAX_SUBCONDITIONS} subconditions`);
    }
    for (const { weight } of this.subconditions) checkWeight(weight);
    return this.subconditions;
  }

  private weightedConditions(): WeightedCondition[] {
    return this.checkedEntries().map((entry) => ({
      weight: entry.weight,
      condition: entry.type === 'fulfillment' ? entry.body.condition : entry.body,
    }));
  }

  /** SHA-256(`UINT32 threshold ‖ VARUINT count ‖ sorted(VARUINT weight ‖ condition binary)`) */
  private fingerprint(subconditions: readonly WeightedCondition[]): Uint8Array {
    const entries = subconditions.map(({ weight, condition }) =>
      new Writer().varUint(weight).bytes(condition.serializeBinary()).finish(),
    );
    const writer = new Writer().uint32(this.threshold).varUint(entries.length);
    for (const entry of sortBuffers(entries)) writer.bytes(entry);
    return sha256(writer.finish());
  }

  static parsePayload(payload: Uint8Array, context: ParseContext): ThresholdSha256Fulfillment {
    const path = context.path;
    const reader = new Reader(payload);
    const threshold = reader.varUint(`${path} threshold`);
    if (threshold < 1 || threshold > MAX_THRESHOLD) {
      throw new ParseError(`${path}: threshold ${threshold} outside 1..${MAX_THRESHOLD}`, { field: path });
    }
    const count = reader.varUint(`${path} subcondition count`);
    if (count < 1 || count > MAX_SUBCONDITIONS || count * MIN_ENTRY_LENGTH > reader.remaining) {
      throw new ParseError(`${path}: implausible subcondition count ${count}`, { field: path });
    }
    const fulfillment = new this(threshold);
    let totalWeight = 0;
    for (let i = 0; i < count; i++) {
      const entryPath = `${path}.subconditions[${i}]`;
      const weight = reader.varUint(`${entryPath} weight`);
      if (weight < 1) throw new ParseError(`${entryPath}: weight must be at least 1`, { field: entryPath });
      const fulfillmentBytes = reader.varBytes(`${entryPath} fulfillment`);
      const conditionBytes = reader.varBytes(`${entryPath} condition`);
      if (fulfillmentBytes.length > 0 && conditionBytes.length > 0) {
        throw new ParseError(`${entryPath}: has both a fulfillment and a condition`, { field: entryPath });
      } else if (fulfillmentBytes.length > 0) {
        const sub = parseFulfillmentBinary(fulfillmentBytes, nestedContext(context, entryPath));
        fulfillment.addSubfulfillment(sub, weight);
      } else if (conditionBytes.length > 0) {
        fulfillment.addSubcondition(Condition.fromBinary(conditionBytes), weight);
      } else {
        throw new ParseError(`${entryPath}: has neither a fulfillment nor a condition`, { field: entryPath });
      }
      totalWeight += weight;
    }
    if (totalWeight < threshold) {
      throw new ParseError(`${path}: threshold ${threshold} exceeds the total weight ${totalWeight}`, {
        field: path,
      });
    }
    return fulfillment;
  }

  static fromDetails(details: DetailsRecord, context: ParseContext): ThresholdSha256Fulfillment {
    const path = context.path;
    const fulfillment = new this(readInteger(details, 'threshold', path, 1, MAX_THRESHOLD));
    const entries = readArray(details, 'subfulfillments', path, MAX_SUBCONDITIONS);
    if (entries.length === 0) {
      throw new ParseError(`${path}.subfulfillments must not be empty`, { field: `${path}.subfulfillments` });
    }
    let totalWeight = 0;
    entries.forEach((value, i) => {
      const entryPath = `${path}.subfulfillments[${i}]`;
      const entry = asRecord(value, entryPath);
      const weight = readInteger(entry, 'weight', entryPath, 1, MAX_VARUINT);
      if (entry['type'] === 'fulfillment') {
        fulfillment.addSubfulfillment(
          fulfillmentFromDetails(entry, nestedContext(context, entryPath)),
          weight,
        );
      } else if (entry['type'] === 'condition') {
        fulfillment.addSubcondition(conditionFromDetails(entry, entryPath), weight);
      } else {
        throw new ParseError(`${entryPath}.type must be "fulfillment" or "condition"`, {
          field: `${entryPath}.type`,
        });
      }
      totalWeight += weight;
    });
    if (totalWeight < fulfillment.threshold) {
      throw new ParseError(`${path}.threshold exceeds the total weight ${totalWeight}`, {
        field: `${path}.threshold`,
      });
    }
    return fulfillment;
  }
}

registerFulfillmentType(ThresholdSha256Fulfillment);
