import { fromUtf8 } from '../bytes.ts';
import { readString, type DetailsRecord, type TimeoutDetails } from './details.ts';
import { InvalidTimeError, ParseError } from './errors.ts';
import { registerFulfillmentType, type Message, type ParseContext } from './fulfillment.ts';
import { MAX_PAYLOAD_LENGTH } from './limits.ts';
import { PreimageSha256Fulfillment } from './preimage-sha256.ts';

/** Unix seconds, optionally with a fraction: the only form 0.4.1 accepted for `now` and for new timeouts. */
const TIMESTAMP = /^\d{10}(\.\d+)?$/;

function checkExpireTime(expireTime: string): string {
  if (typeof expireTime !== 'string' || !TIMESTAMP.test(expireTime)) {
    throw new InvalidTimeError(
      `expire time must match ${TIMESTAMP.source}, got ${JSON.stringify(expireTime)}`,
    );
  }
  return expireTime;
}

/**
 * TIMEOUT (type 99, BigchainDB only, spec §5.4): a preimage fulfillment whose preimage is the ASCII expiry
 * timestamp, with bitmask 0x09. Valid while `now` ≤ expire time. Immutable.
 * Deviation: 0.4.1 checked the timestamp format only in its constructor; here the payload and the dict form must
 * match it too (0.4.1 would raise at validation instead), so a parsed timeout always has a comparable time.
 */
export class TimeoutFulfillment extends PreimageSha256Fulfillment {
  static override readonly TYPE_ID: number = 99;
  static override readonly FEATURE_BITMASK: number = 0x09;

  override readonly typeId: number = TimeoutFulfillment.TYPE_ID;
  readonly expireTime: string;

  constructor(expireTime: string) {
    super(checkExpireTime(expireTime));
    this.expireTime = expireTime;
  }

  override get bitmask(): number {
    return TimeoutFulfillment.FEATURE_BITMASK;
  }

  /** Float comparison of the decimal strings, as 0.4.1 did; `now` is required and must be well-formed. */
  override validate(_message?: Message, now?: string): boolean {
    if (typeof now !== 'string' || !TIMESTAMP.test(now)) {
      throw new InvalidTimeError(`now must match ${TIMESTAMP.source}, got ${JSON.stringify(now)}`);
    }
    return parseFloat(now) <= parseFloat(this.expireTime);
  }

  override toDict(): TimeoutDetails {
    return { type: 'fulfillment', type_id: 99, bitmask: this.bitmask, expire_time: this.expireTime };
  }

  static override parsePayload(payload: Uint8Array): TimeoutFulfillment {
    // ASCII is valid UTF-8; anything else cannot be a timestamp.
    const expireTime = payload.every((byte) => byte < 0x80) ? fromUtf8(payload) : '';
    if (!TIMESTAMP.test(expireTime)) throw new ParseError('timeout payload is not a timestamp');
    return new TimeoutFulfillment(expireTime);
  }

  static override fromDetails(details: DetailsRecord, context: ParseContext): TimeoutFulfillment {
    const expireTime = readString(details, 'expire_time', context.path, MAX_PAYLOAD_LENGTH);
    if (!TIMESTAMP.test(expireTime)) {
      throw new ParseError(`${context.path}.expire_time must match ${TIMESTAMP.source}`, {
        field: `${context.path}.expire_time`,
      });
    }
    return new TimeoutFulfillment(expireTime);
  }
}

registerFulfillmentType(TimeoutFulfillment);
