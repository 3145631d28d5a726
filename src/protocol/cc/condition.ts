import { base58Encode } from '../base58.ts';
import { base64UrlEncode } from '../bytes.ts';
import {
  asRecord,
  decodeBase58Field,
  readInteger,
  readRequired,
  type ConditionDetails,
  type DetailsRecord,
} from './details.ts';
import { decodeBase64Url, Reader, Writer } from './encoding.ts';
import { ParseError } from './errors.ts';
import { MAX_BITMASK, MAX_FINGERPRINT_LENGTH, MAX_PAYLOAD_LENGTH, MAX_VARUINT } from './limits.ts';

/** Strict grammar of both libraries: lower-case hex without leading zeros, bitmask ≠ 0, decimal length. */
const CONDITION_URI =
  /^cc:([1-9a-f][0-9a-f]{0,3}|0):([1-9a-f][0-9a-f]{0,7}):([a-zA-Z0-9_-]{0,86}):([1-9][0-9]{0,17}|0)$/;

/**
 * A condition (spec §2): type, feature bitmask, fingerprint (`hash`) and max fulfillment length. Immutable.
 * Any type id is accepted: a condition is data, and a threshold may hold sub-conditions of types this code cannot
 * fulfill (both libraries behave so). Every field is kept within what the URI grammar can express, so each
 * condition has a URI and a binary form and both round-trip.
 */
export class Condition {
  readonly typeId: number;
  readonly bitmask: number;
  /** The fingerprint. */
  readonly hash: Uint8Array;
  readonly maxFulfillmentLength: number;

  constructor(typeId: number, bitmask: number, hash: Uint8Array, maxFulfillmentLength: number) {
    checkInteger(typeId, 0, 0xffff, 'type id');
    checkInteger(bitmask, 1, MAX_BITMASK, 'bitmask');
    if (!(hash instanceof Uint8Array) || hash.length > MAX_FINGERPRINT_LENGTH) {
      throw new ParseError(`fingerprint must be at most ${MAX_FINGERPRINT_LENGTH} bytes`, { field: 'hash' });
    }
    checkInteger(maxFulfillmentLength, 0, MAX_VARUINT, 'max fulfillment length');
    this.typeId = typeId;
    this.bitmask = bitmask;
    this.hash = hash;
    this.maxFulfillmentLength = maxFulfillmentLength;
  }

  /** `cc:<type hex>:<bitmask hex>:<base64url fingerprint>:<max fulfillment length>` */
  serializeUri(): string {
    return `cc:${this.typeId.toString(16)}:${this.bitmask.toString(16)}:${base64UrlEncode(this.hash)}:${this.maxFulfillmentLength}`;
  }

  /** `UINT16 type ‖ VARUINT bitmask ‖ VARBYTES fingerprint ‖ VARUINT max fulfillment length` */
  serializeBinary(): Uint8Array {
    return new Writer()
      .uint16(this.typeId)
      .varUint(this.bitmask)
      .varBytes(this.hash)
      .varUint(this.maxFulfillmentLength)
      .finish();
  }

  toDict(): ConditionDetails {
    return {
      type: 'condition',
      type_id: this.typeId,
      bitmask: this.bitmask,
      hash: base58Encode(this.hash),
      max_fulfillment_length: this.maxFulfillmentLength,
    };
  }

  static fromUri(uri: string): Condition {
    if (typeof uri !== 'string') throw new ParseError('condition URI must be a string');
    const match = CONDITION_URI.exec(uri);
    if (!match) throw new ParseError(`invalid condition URI ${JSON.stringify(uri.slice(0, 200))}`);
    const maxFulfillmentLength = Number(match[4]);
    if (maxFulfillmentLength > MAX_VARUINT) {
      throw new ParseError(`condition URI max fulfillment length exceeds ${MAX_VARUINT}`);
    }
    return new Condition(
      parseInt(match[1]!, 16),
      parseInt(match[2]!, 16),
      decodeBase64Url(match[3]!, 'condition fingerprint'),
      maxFulfillmentLength,
    );
  }

  /** Reads one condition binary; trailing bytes are ignored, as in both libraries. */
  static fromBinary(bytes: Uint8Array): Condition {
    if (!(bytes instanceof Uint8Array)) throw new ParseError('condition binary must be a Uint8Array');
    if (bytes.length > MAX_PAYLOAD_LENGTH) {
      throw new ParseError(`condition binary exceeds ${MAX_PAYLOAD_LENGTH} bytes`);
    }
    const reader = new Reader(bytes);
    const typeId = reader.uint(2, 'condition type');
    const bitmask = reader.varUint('condition bitmask');
    const hash = reader.varBytes('condition fingerprint').slice();
    return new Condition(typeId, bitmask, hash, reader.varUint('condition max fulfillment length'));
  }

  static fromDict(details: unknown): Condition {
    return conditionFromDetails(asRecord(details, 'details'), 'details');
  }
}

/** The dict form at `path` (used for unfulfilled entries inside threshold details too). */
export function conditionFromDetails(record: DetailsRecord, path: string): Condition {
  return new Condition(
    readInteger(record, 'type_id', path, 0, 0xffff),
    readInteger(record, 'bitmask', path, 1, MAX_BITMASK),
    decodeBase58Field(readRequired(record, 'hash', path), `${path}.hash`, {
      maxBytes: MAX_FINGERPRINT_LENGTH,
    }),
    readInteger(record, 'max_fulfillment_length', path, 0, MAX_VARUINT),
  );
}

function checkInteger(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ParseError(`condition ${what} must be an integer in ${min}..${max}, got ${value}`, {
      field: what,
    });
  }
}
