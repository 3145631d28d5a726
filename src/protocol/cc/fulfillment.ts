import { base64UrlEncode, utf8 } from '../bytes.ts';
import { Condition } from './condition.ts';
import { asRecord, readInteger, type DetailsRecord, type FulfillmentDetails } from './details.ts';
import { decodeBase64Url, Reader, Writer } from './encoding.ts';
import { CryptoConditionError, ParseError, UnsupportedTypeError } from './errors.ts';
import { MAX_DEPTH, MAX_PAYLOAD_LENGTH } from './limits.ts';

/** What a fulfillment validates against; text is UTF-8 encoded (PROTOCOL R1). */
export type Message = Uint8Array | string;

export interface FulfillmentParseOptions {
  /**
   * Fulfillment type ids accepted anywhere in the structure, e.g. `BIGCHAINDB_TYPE_IDS`; any other type, however
   * deeply nested, throws UnsupportedTypeError. Bare sub-conditions are data and are not restricted.
   */
  allowedTypeIds?: readonly number[];
}

/** Where a parser is in the structure: nesting depth, field path for error messages, type restriction. */
export interface ParseContext {
  readonly depth: number;
  readonly path: string;
  readonly allowedTypeIds: readonly number[] | undefined;
}

/** The statics every fulfillment class provides to the parsers. */
export interface FulfillmentType {
  readonly TYPE_ID: number;
  parsePayload(payload: Uint8Array, context: ParseContext): Fulfillment;
  fromDetails(details: DetailsRecord, context: ParseContext): Fulfillment;
}

const FULFILLMENT_URI = /^cf:([1-9a-f][0-9a-f]{0,3}|0):([a-zA-Z0-9_-]*)$/;
const MAX_FULFILLMENT_URI_LENGTH = 'cf:ffff:'.length + Math.ceil((MAX_PAYLOAD_LENGTH * 4) / 3);
const EMPTY = new Uint8Array(0);

/**
 * Each type module registers itself when loaded (import the package through index.ts), which keeps the base
 * class free of imports of its own subclasses.
 */
const registry = new Map<number, FulfillmentType>();

export function registerFulfillmentType(type: FulfillmentType): void {
  registry.set(type.TYPE_ID, type);
}

function fulfillmentType(typeId: number, context: ParseContext): FulfillmentType {
  const type = registry.get(typeId);
  if (!type || (context.allowedTypeIds && !context.allowedTypeIds.includes(typeId))) {
    const what = typeId === 3 ? 'RSA-SHA-256 (type 3)' : `fulfillment type ${typeId}`;
    throw new UnsupportedTypeError(`${context.path}: ${what} is not supported`, {
      typeId,
      field: context.path,
    });
  }
  return type;
}

function rootContext(path: string, options: FulfillmentParseOptions | undefined): ParseContext {
  return { depth: 0, path, allowedTypeIds: options?.allowedTypeIds };
}

/** The context for a sub-fulfillment at `path`; refuses to go deeper than MAX_DEPTH. */
export function nestedContext(context: ParseContext, path: string): ParseContext {
  if (context.depth >= MAX_DEPTH) {
    throw new ParseError(`${path}: sub-fulfillments nested deeper than ${MAX_DEPTH} levels`, { field: path });
  }
  return { depth: context.depth + 1, path, allowedTypeIds: context.allowedTypeIds };
}

/** FULFILLMENT_BINARY = `UINT16 type ‖ VARBYTES payload`; trailing bytes are ignored, as in both libraries. */
export function parseFulfillmentBinary(bytes: Uint8Array, context: ParseContext): Fulfillment {
  const reader = new Reader(bytes);
  const type = fulfillmentType(reader.uint(2, `${context.path} type`), context);
  return type.parsePayload(reader.varBytes(`${context.path} payload`), context);
}

/** The dict form, dispatched on `type_id`. */
export function fulfillmentFromDetails(details: DetailsRecord, context: ParseContext): Fulfillment {
  const typeId = readInteger(details, 'type_id', context.path, 0, 0xffff);
  return fulfillmentType(typeId, context).fromDetails(details, context);
}

export function messageBytes(message: Message | undefined): Uint8Array {
  if (message === undefined) return EMPTY;
  if (typeof message === 'string') return utf8(message);
  if (message instanceof Uint8Array) return message;
  throw new ParseError('message must be a Uint8Array or a string');
}

/**
 * Derived conditions remembered for the span of one validation or serialization (see withConditionMemo), during
 * which nothing is mutated. Undefined outside of it: fulfillments are mutable, so nothing is cached for longer.
 */
let conditionMemo: Map<Fulfillment, Condition> | undefined;

/**
 * Runs `run` with every derived condition remembered per object. Validating or serializing a threshold derives
 * the condition of its sub-fulfillments, and deriving a nested one walks its whole subtree: without the memo a
 * structure of depth d would be derived up to d times over.
 */
export function withConditionMemo<T>(run: () => T): T {
  if (conditionMemo !== undefined) return run();
  conditionMemo = new Map();
  try {
    return run();
  } finally {
    conditionMemo = undefined;
  }
}

function checkPayloadLength(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_PAYLOAD_LENGTH) {
    throw new CryptoConditionError(
      `fulfillment payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_LENGTH}`,
    );
  }
  return payload;
}

/**
 * A fulfillment (spec §3). Its condition is always derived from it, not stored, because fulfillments are mutable
 * (sign, addSubfulfillment); one derivation walks the structure once.
 */
export abstract class Fulfillment {
  abstract readonly typeId: number;

  /** Feature bits needed to validate this fulfillment, including those of every sub-fulfillment. */
  abstract get bitmask(): number;

  /** The fingerprint of the condition. */
  abstract generateHash(): Uint8Array;

  /** The max fulfillment length the condition carries (a formula of the type, not an enforced bound). */
  abstract calculateMaxFulfillmentLength(): number;

  abstract serializePayload(): Uint8Array;

  /**
   * Whether this fulfillment is valid for the message at time `now` (needed only by timeouts). A wrong signature
   * gives false; a malformed `now` reaching a timeout throws InvalidTimeError.
   */
  abstract validate(message?: Message, now?: string): boolean;

  /** The `details` JSON form (spec §7). */
  abstract toDict(): FulfillmentDetails;

  /**
   * Whether serializePayload() can produce bytes (signature present, enough fulfilled weight, ...). Says nothing
   * about validity. Thresholds write sub-fulfillments that are not fulfilled as their conditions.
   */
  get isFulfilled(): boolean {
    return true;
  }

  get condition(): Condition {
    const remembered = conditionMemo?.get(this);
    if (remembered !== undefined) return remembered;
    const condition = this.deriveCondition();
    conditionMemo?.set(this, condition);
    return condition;
  }

  /** Compound types override this to derive each sub-condition only once. */
  protected deriveCondition(): Condition {
    return new Condition(
      this.typeId,
      this.bitmask,
      this.generateHash(),
      this.calculateMaxFulfillmentLength(),
    );
  }

  get conditionUri(): string {
    return this.condition.serializeUri();
  }

  get conditionBinary(): Uint8Array {
    return this.condition.serializeBinary();
  }

  /** `cf:<type hex>:<base64url payload>` */
  serializeUri(): string {
    return `cf:${this.typeId.toString(16)}:${base64UrlEncode(checkPayloadLength(this.serializePayload()))}`;
  }

  /** `UINT16 type ‖ VARBYTES payload` (the form nested inside thresholds and prefixes). */
  serializeBinary(): Uint8Array {
    return new Writer().uint16(this.typeId).varBytes(checkPayloadLength(this.serializePayload())).finish();
  }

  static fromUri(uri: string, options?: FulfillmentParseOptions): Fulfillment {
    if (typeof uri !== 'string') throw new ParseError('fulfillment URI must be a string');
    if (uri.length > MAX_FULFILLMENT_URI_LENGTH) {
      throw new ParseError(`fulfillment URI longer than ${MAX_FULFILLMENT_URI_LENGTH} characters`);
    }
    const match = FULFILLMENT_URI.exec(uri);
    if (!match) throw new ParseError(`invalid fulfillment URI ${JSON.stringify(uri.slice(0, 200))}`);
    const context = rootContext('fulfillment', options);
    const type = fulfillmentType(parseInt(match[1]!, 16), context);
    return type.parsePayload(decodeBase64Url(match[2]!, 'fulfillment payload'), context);
  }

  static fromBinary(bytes: Uint8Array, options?: FulfillmentParseOptions): Fulfillment {
    if (!(bytes instanceof Uint8Array)) throw new ParseError('fulfillment binary must be a Uint8Array');
    if (bytes.length > MAX_PAYLOAD_LENGTH) {
      throw new ParseError(`fulfillment binary exceeds ${MAX_PAYLOAD_LENGTH} bytes`);
    }
    // Parsed objects view their input; copy once so later changes to the caller's array cannot reach them.
    return parseFulfillmentBinary(bytes.slice(), rootContext('fulfillment', options));
  }

  static fromDict(details: unknown, options?: FulfillmentParseOptions): Fulfillment {
    return fulfillmentFromDetails(asRecord(details, 'details'), rootContext('details', options));
  }
}
