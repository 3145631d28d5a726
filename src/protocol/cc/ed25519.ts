import { base58Encode } from '../base58.ts';
import { concatBytes } from '../bytes.ts';
import { publicKeyBytes, signMessage, verifyMessage } from '../crypto.ts';
import { EncodingError } from '../errors.ts';
import { decodeBase58Field, readRequired, type DetailsRecord, type Ed25519Details } from './details.ts';
import { MissingDataError, ParseError } from './errors.ts';
import {
  Fulfillment,
  messageBytes,
  registerFulfillmentType,
  type Message,
  type ParseContext,
} from './fulfillment.ts';

const PUBLIC_KEY_LENGTH = 32;
const SIGNATURE_LENGTH = 64;

const KEY_LIMITS = { maxBytes: PUBLIC_KEY_LENGTH, exactBytes: PUBLIC_KEY_LENGTH };
const SIGNATURE_LIMITS = { maxBytes: SIGNATURE_LENGTH, exactBytes: SIGNATURE_LENGTH };

function toPublicKey(publicKey: string | Uint8Array): Uint8Array {
  const raw =
    publicKey instanceof Uint8Array ? publicKey : decodeBase58Field(publicKey, 'public key', KEY_LIMITS);
  if (raw.length !== PUBLIC_KEY_LENGTH) {
    throw new ParseError(`Ed25519 public key must be ${PUBLIC_KEY_LENGTH} bytes, got ${raw.length}`);
  }
  return raw;
}

/**
 * ED25519 (type 4, spec §5.2): payload = public key (32) ‖ signature (64); fingerprint = the raw public key;
 * max fulfillment length 96. Plain RFC 8032 signature over the message bytes.
 */
export class Ed25519Fulfillment extends Fulfillment {
  static readonly TYPE_ID: number = 4;
  static readonly FEATURE_BITMASK: number = 0x20;
  static readonly FULFILLMENT_LENGTH: number = PUBLIC_KEY_LENGTH + SIGNATURE_LENGTH;

  readonly typeId: number = Ed25519Fulfillment.TYPE_ID;
  publicKey: Uint8Array | undefined;
  signature: Uint8Array | undefined;

  constructor(publicKey?: string | Uint8Array) {
    super();
    if (publicKey !== undefined) this.publicKey = toPublicKey(publicKey);
  }

  get publicKeyBase58(): string {
    return base58Encode(this.requirePublicKey());
  }

  /** Signs with a base58 seed (or its 32 bytes) and, like 0.4.1, takes the signer's public key as its own. */
  sign(message: Message, privateKey: string | Uint8Array): void {
    const bytes = messageBytes(message);
    try {
      const signature = signMessage(bytes, privateKey);
      this.publicKey = publicKeyBytes(privateKey);
      this.signature = signature;
    } catch (error) {
      if (error instanceof EncodingError) {
        throw new ParseError(`invalid Ed25519 private key: ${error.message}`);
      }
      throw error;
    }
  }

  get bitmask(): number {
    return Ed25519Fulfillment.FEATURE_BITMASK;
  }

  override get isFulfilled(): boolean {
    return this.publicKey !== undefined && this.signature !== undefined;
  }

  generateHash(): Uint8Array {
    return this.requirePublicKey();
  }

  calculateMaxFulfillmentLength(): number {
    return Ed25519Fulfillment.FULFILLMENT_LENGTH;
  }

  serializePayload(): Uint8Array {
    if (this.signature === undefined) throw new MissingDataError('Ed25519 fulfillment is not signed');
    return concatBytes(this.requirePublicKey(), this.signature);
  }

  /** As 0.4.1: false for an empty message or a missing signature, else the verification result. */
  validate(message?: Message): boolean {
    const bytes = messageBytes(message);
    if (bytes.length === 0 || this.signature === undefined || this.publicKey === undefined) return false;
    return verifyMessage(bytes, this.signature, this.publicKey);
  }

  toDict(): Ed25519Details {
    // In canonical key order: serialize then takes its fast path (json.ts).
    return {
      bitmask: this.bitmask,
      public_key: this.publicKeyBase58,
      signature: this.signature === undefined ? null : base58Encode(this.signature),
      type: 'fulfillment',
      type_id: 4,
    };
  }

  private requirePublicKey(): Uint8Array {
    if (this.publicKey === undefined) throw new MissingDataError('Ed25519 fulfillment has no public key');
    return this.publicKey;
  }

  /** Trailing bytes after the 96 are ignored, as in both libraries. */
  static parsePayload(payload: Uint8Array, context: ParseContext): Ed25519Fulfillment {
    if (payload.length < Ed25519Fulfillment.FULFILLMENT_LENGTH) {
      throw new ParseError(`${context.path}: Ed25519 payload of ${payload.length} bytes, needs 96`, {
        field: context.path,
      });
    }
    const fulfillment = new Ed25519Fulfillment(payload.subarray(0, PUBLIC_KEY_LENGTH));
    fulfillment.signature = payload.subarray(PUBLIC_KEY_LENGTH, Ed25519Fulfillment.FULFILLMENT_LENGTH);
    return fulfillment;
  }

  /** `signature` must be present (0.4.1 requires the key), null when unsigned. */
  static fromDetails(details: DetailsRecord, context: ParseContext): Ed25519Fulfillment {
    const path = context.path;
    const publicKey = decodeBase58Field(
      readRequired(details, 'public_key', path),
      `${path}.public_key`,
      KEY_LIMITS,
    );
    const signature = readRequired(details, 'signature', path);
    const fulfillment = new Ed25519Fulfillment(publicKey);
    if (signature !== null) {
      fulfillment.signature = decodeBase58Field(signature, `${path}.signature`, SIGNATURE_LIMITS);
    }
    return fulfillment;
  }
}

registerFulfillmentType(Ed25519Fulfillment);
