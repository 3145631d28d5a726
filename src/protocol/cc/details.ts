import { base58Decode } from '../base58.ts';
import { ParseError } from './errors.ts';

/**
 * The JSON "details" form (spec §7, cryptoconditions 0.4.1 `to_dict`/`from_dict`), plus the readers that turn
 * untrusted JSON back into values: every failure is a ParseError naming the field path.
 * Type aliases (not interfaces) so that the shapes are assignable to plain JSON object types.
 */

export type ConditionDetails = {
  type: 'condition';
  type_id: number;
  bitmask: number;
  /** base58 fingerprint */
  hash: string;
  max_fulfillment_length: number;
};

export type PreimageSha256Details = { type: 'fulfillment'; type_id: 0; bitmask: number; preimage: string };

/** This project's own form (neither library had a dict for PREFIX): base64url prefix, nested sub form. */
export type PrefixSha256Details = {
  type: 'fulfillment';
  type_id: 1;
  bitmask: number;
  prefix: string;
  subfulfillment: FulfillmentDetails | ConditionDetails;
};

export type SubfulfillmentDetails = (FulfillmentDetails | ConditionDetails) & { weight: number };

export type ThresholdSha256Details = {
  type: 'fulfillment';
  type_id: 2 | 98;
  bitmask: number;
  threshold: number;
  subfulfillments: SubfulfillmentDetails[];
};

export type Ed25519Details = {
  type: 'fulfillment';
  type_id: 4;
  bitmask: number;
  public_key: string;
  signature: string | null;
};

export type TimeoutDetails = { type: 'fulfillment'; type_id: 99; bitmask: number; expire_time: string };

export type FulfillmentDetails =
  PreimageSha256Details | PrefixSha256Details | ThresholdSha256Details | Ed25519Details | TimeoutDetails;

export type DetailsRecord = Record<string, unknown>;

/** A ParseError about the field at `fieldPath` (which the message and `details.field` both name). */
function invalidField(fieldPath: string, problem: string): ParseError {
  return new ParseError(`${fieldPath} ${problem}`, { field: fieldPath });
}

export function asRecord(value: unknown, path: string): DetailsRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidField(path, 'must be an object');
  }
  return value as DetailsRecord;
}

/** A key that must be present (its value may still be null, e.g. an unsigned Ed25519 `signature`). */
export function readRequired(record: DetailsRecord, key: string, path: string): unknown {
  if (!Object.hasOwn(record, key)) throw invalidField(`${path}.${key}`, 'is missing');
  return record[key];
}

export function readInteger(
  record: DetailsRecord,
  key: string,
  path: string,
  min: number,
  max: number,
): number {
  const value = readRequired(record, key, path);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidField(`${path}.${key}`, `must be an integer in ${min}..${max}`);
  }
  return value;
}

export function readString(record: DetailsRecord, key: string, path: string, maxLength: number): string {
  const value = readRequired(record, key, path);
  if (typeof value !== 'string') throw invalidField(`${path}.${key}`, 'must be a string');
  if (value.length > maxLength) {
    throw invalidField(`${path}.${key}`, `is longer than ${maxLength} characters`);
  }
  return value;
}

export function readArray(record: DetailsRecord, key: string, path: string, maxLength: number): unknown[] {
  const value = readRequired(record, key, path);
  if (!Array.isArray(value)) throw invalidField(`${path}.${key}`, 'must be an array');
  if (value.length > maxLength) throw invalidField(`${path}.${key}`, `has more than ${maxLength} entries`);
  return value;
}

/**
 * Base58 text of at most `maxBytes` bytes (exactly `exactBytes` when given). The text length is checked before
 * decoding because base58 decoding is quadratic.
 */
export function decodeBase58Field(
  value: unknown,
  fieldPath: string,
  limits: { maxBytes: number; exactBytes?: number },
): Uint8Array {
  if (typeof value !== 'string') throw invalidField(fieldPath, 'must be a base58 string');
  if (value.length > Math.ceil(limits.maxBytes * 1.37)) throw invalidField(fieldPath, 'is too long');
  let bytes: Uint8Array;
  try {
    bytes = base58Decode(value);
  } catch {
    throw invalidField(fieldPath, 'is not valid base58');
  }
  if (
    bytes.length > limits.maxBytes ||
    (limits.exactBytes !== undefined && bytes.length !== limits.exactBytes)
  ) {
    throw invalidField(fieldPath, `decodes to ${bytes.length} bytes`);
  }
  return bytes;
}
