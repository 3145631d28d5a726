import { base64UrlEncode, concatBytes, utf8 } from '../bytes.ts';
import { sha256 } from '../crypto.ts';
import { Condition, conditionFromDetails } from './condition.ts';
import {
  asRecord,
  readRequired,
  readString,
  type DetailsRecord,
  type PrefixSha256Details,
} from './details.ts';
import { decodeBase64Url, lengthPrefixLength, Reader, Writer } from './encoding.ts';
import { MissingDataError, ParseError } from './errors.ts';
import {
  Fulfillment,
  fulfillmentFromDetails,
  messageBytes,
  nestedContext,
  parseFulfillmentBinary,
  registerFulfillmentType,
  type Message,
  type ParseContext,
} from './fulfillment.ts';
import { MAX_PAYLOAD_LENGTH } from './limits.ts';

/**
 * PREFIX-SHA-256 (type 1, five-bells only, spec §5.6): validates its sub-fulfillment against prefix ‖ message.
 * BigchainDB 0.6 rejects this type; it exists so the five-bells vectors reproduce. The sub may be a bare condition
 * (enough to derive the condition, not to serialize or validate). Immutable.
 */
export class PrefixSha256Fulfillment extends Fulfillment {
  static readonly TYPE_ID: number = 1;
  static readonly FEATURE_BITMASK: number = 0x05;

  readonly typeId: number = PrefixSha256Fulfillment.TYPE_ID;
  readonly prefix: Uint8Array;
  readonly subcondition: Fulfillment | Condition | undefined;

  constructor(prefix: Uint8Array | string = new Uint8Array(0), subcondition?: Fulfillment | Condition) {
    super();
    if (typeof prefix === 'string') this.prefix = utf8(prefix);
    else if (prefix instanceof Uint8Array) this.prefix = prefix;
    else throw new ParseError('prefix must be a Uint8Array or a string');
    if (
      subcondition !== undefined &&
      !(subcondition instanceof Fulfillment || subcondition instanceof Condition)
    ) {
      throw new ParseError('prefix subcondition must be a Fulfillment or a Condition');
    }
    this.subcondition = subcondition;
  }

  get bitmask(): number {
    return (PrefixSha256Fulfillment.FEATURE_BITMASK | this.requireSubcondition().bitmask) >>> 0;
  }

  /** Derives the sub-condition once. */
  protected override deriveCondition(): Condition {
    const sub = this.subConditionOf();
    return new Condition(
      this.typeId,
      (PrefixSha256Fulfillment.FEATURE_BITMASK | sub.bitmask) >>> 0,
      this.fingerprint(sub),
      this.maxFulfillmentLength(sub),
    );
  }

  generateHash(): Uint8Array {
    return this.fingerprint(this.subConditionOf());
  }

  /** len(VARBYTES prefix) + the sub's max payload length (its type/length overhead is not counted, as in JS). */
  calculateMaxFulfillmentLength(): number {
    return this.maxFulfillmentLength(this.subConditionOf());
  }

  override get isFulfilled(): boolean {
    return this.subcondition instanceof Fulfillment && this.subcondition.isFulfilled;
  }

  /** `VARBYTES prefix ‖ FULFILLMENT_BINARY(sub)` */
  serializePayload(): Uint8Array {
    const sub = this.subcondition;
    if (!(sub instanceof Fulfillment)) throw new MissingDataError('prefix subcondition is not fulfilled');
    return new Writer().varBytes(this.prefix).bytes(sub.serializeBinary()).finish();
  }

  validate(message?: Message, now?: string): boolean {
    const sub = this.subcondition;
    return sub instanceof Fulfillment && sub.validate(concatBytes(this.prefix, messageBytes(message)), now);
  }

  toDict(): PrefixSha256Details {
    return {
      type: 'fulfillment',
      type_id: 1,
      bitmask: this.bitmask,
      prefix: base64UrlEncode(this.prefix),
      subfulfillment: this.requireSubcondition().toDict(),
    };
  }

  private requireSubcondition(): Fulfillment | Condition {
    if (this.subcondition === undefined) throw new MissingDataError('prefix has no subcondition');
    return this.subcondition;
  }

  private subConditionOf(): Condition {
    const sub = this.requireSubcondition();
    return sub instanceof Condition ? sub : sub.condition;
  }

  /** SHA-256(`VARBYTES prefix ‖ CONDITION_BINARY(sub)`) */
  private fingerprint(sub: Condition): Uint8Array {
    return sha256(new Writer().varBytes(this.prefix).bytes(sub.serializeBinary()).finish());
  }

  private maxFulfillmentLength(sub: Condition): number {
    return lengthPrefixLength(this.prefix.length) + this.prefix.length + sub.maxFulfillmentLength;
  }

  static parsePayload(payload: Uint8Array, context: ParseContext): PrefixSha256Fulfillment {
    const reader = new Reader(payload);
    const prefix = reader.varBytes(`${context.path} prefix`);
    const subPath = `${context.path}.subfulfillment`;
    return new PrefixSha256Fulfillment(
      prefix,
      parseFulfillmentBinary(reader.rest(), nestedContext(context, subPath)),
    );
  }

  static fromDetails(details: DetailsRecord, context: ParseContext): PrefixSha256Fulfillment {
    const path = context.path;
    const prefixText = readString(details, 'prefix', path, Math.ceil((MAX_PAYLOAD_LENGTH * 4) / 3));
    const prefix = decodeBase64Url(prefixText, `${path}.prefix`);
    const subPath = `${path}.subfulfillment`;
    const sub = asRecord(readRequired(details, 'subfulfillment', path), subPath);
    if (sub['type'] === 'fulfillment') {
      return new PrefixSha256Fulfillment(
        prefix,
        fulfillmentFromDetails(sub, nestedContext(context, subPath)),
      );
    }
    if (sub['type'] === 'condition') {
      return new PrefixSha256Fulfillment(prefix, conditionFromDetails(sub, subPath));
    }
    throw new ParseError(`${subPath}.type must be "fulfillment" or "condition"`, {
      field: `${subPath}.type`,
    });
  }
}

registerFulfillmentType(PrefixSha256Fulfillment);
