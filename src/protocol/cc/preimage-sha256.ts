import { fromUtf8, utf8 } from '../bytes.ts';
import { sha256 } from '../crypto.ts';
import { readString, type DetailsRecord, type FulfillmentDetails } from './details.ts';
import { CryptoConditionError, ParseError } from './errors.ts';
import { Fulfillment, registerFulfillmentType, type Message, type ParseContext } from './fulfillment.ts';
import { MAX_PAYLOAD_LENGTH } from './limits.ts';

/**
 * PREIMAGE-SHA-256 (type 0, spec §5.1): payload = the preimage, fingerprint = SHA-256(preimage), max fulfillment
 * length = its length. Always valid on its own; matching the condition is the whole check. Immutable.
 */
export class PreimageSha256Fulfillment extends Fulfillment {
  static readonly TYPE_ID: number = 0;
  static readonly FEATURE_BITMASK: number = 0x03;

  readonly typeId: number = PreimageSha256Fulfillment.TYPE_ID;
  readonly preimage: Uint8Array;

  constructor(preimage: Uint8Array | string = new Uint8Array(0)) {
    super();
    if (typeof preimage === 'string') this.preimage = utf8(preimage);
    else if (preimage instanceof Uint8Array) this.preimage = preimage;
    else throw new ParseError('preimage must be a Uint8Array or a string');
  }

  get bitmask(): number {
    return PreimageSha256Fulfillment.FEATURE_BITMASK;
  }

  generateHash(): Uint8Array {
    return sha256(this.preimage);
  }

  calculateMaxFulfillmentLength(): number {
    return this.preimage.length;
  }

  serializePayload(): Uint8Array {
    return this.preimage;
  }

  validate(_message?: Message, _now?: string): boolean {
    return true;
  }

  /** The preimage as UTF-8 text, as 0.4.1 wrote it; a preimage that is not UTF-8 has no dict form. */
  toDict(): FulfillmentDetails {
    let preimage: string;
    try {
      preimage = fromUtf8(this.preimage);
    } catch {
      throw new CryptoConditionError('preimage is not UTF-8 text and has no dict form');
    }
    return { type: 'fulfillment', type_id: 0, bitmask: this.bitmask, preimage };
  }

  static parsePayload(payload: Uint8Array): PreimageSha256Fulfillment {
    return new PreimageSha256Fulfillment(payload);
  }

  static fromDetails(details: DetailsRecord, context: ParseContext): PreimageSha256Fulfillment {
    const preimage = utf8(readString(details, 'preimage', context.path, MAX_PAYLOAD_LENGTH));
    if (preimage.length > MAX_PAYLOAD_LENGTH) {
      throw new ParseError(`${context.path}.preimage exceeds ${MAX_PAYLOAD_LENGTH} bytes`, {
        field: `${context.path}.preimage`,
      });
    }
    return new PreimageSha256Fulfillment(preimage);
  }
}

registerFulfillmentType(PreimageSha256Fulfillment);
