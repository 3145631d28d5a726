import { base64UrlDecode, base64UrlEncode, concatBytes } from '../bytes.ts';
import { CryptoConditionError, ParseError } from './errors.ts';
import { MAX_VARUINT } from './limits.ts';

/**
 * The OER-like primitives of the draft-01 format (spec §1): fixed-width big-endian integers, length prefixes
 * (`n` ≤ 127 in one byte, else `0x80|k` and `n` in k bytes), VARBYTES = prefix ‖ bytes, VARUINT = VARBYTES of
 * the minimal big-endian value. Values ≥ 256 use the correct big-endian rule (five-bells), not 0.4.1's broken one.
 */

/** Most value bytes a reader accepts for a VARUINT or a long-form length prefix (both libraries). */
const MAX_INT_BYTES = 6;

/** Byte length of the minimal big-endian form of a non-negative integer (0 takes one byte). */
export function uintByteLength(value: number): number {
  let length = 1;
  while (value >= 256 ** length) length++;
  return length;
}

/** Bytes taken by the length prefix for a VARBYTES of `length` bytes. */
export function lengthPrefixLength(length: number): number {
  return length <= 127 ? 1 : 1 + uintByteLength(length);
}

/** Bytes taken by VARUINT(value). */
export function varUintLength(value: number): number {
  return 1 + uintByteLength(value);
}

function checkUint(value: number, max: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new CryptoConditionError(`${what} ${value} cannot be encoded (must be an integer in 0..${max})`);
  }
}

function bigEndian(value: number, width: number): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = value % 256;
    value = Math.floor(value / 256);
  }
  return out;
}

/** Collects encoded parts and joins them once at the end. */
export class Writer {
  private readonly parts: Uint8Array[] = [];

  uint16(value: number): this {
    checkUint(value, 0xffff, 'UINT16');
    return this.bytes(bigEndian(value, 2));
  }

  uint32(value: number): this {
    checkUint(value, 0xffff_ffff, 'UINT32');
    return this.bytes(bigEndian(value, 4));
  }

  varUint(value: number): this {
    checkUint(value, MAX_VARUINT, 'VARUINT');
    return this.varBytes(bigEndian(value, uintByteLength(value)));
  }

  varBytes(bytes: Uint8Array): this {
    const length = bytes.length;
    if (length <= 127) this.parts.push(Uint8Array.of(length));
    else {
      const width = uintByteLength(length);
      this.parts.push(Uint8Array.of(0x80 | width), bigEndian(length, width));
    }
    return this.bytes(bytes);
  }

  bytes(bytes: Uint8Array): this {
    this.parts.push(bytes);
    return this;
  }

  finish(): Uint8Array {
    return this.parts.length === 1 ? this.parts[0]! : concatBytes(...this.parts);
  }
}

/**
 * Sequential reader over a byte array. Every read checks the remaining length first, so a hostile length or
 * count can never make it allocate or loop; results are views into the input (no copies).
 * Like both libraries it accepts non-minimal encodings and leaves trailing bytes to the caller.
 */
export class Reader {
  private offset = 0;

  constructor(private readonly input: Uint8Array) {}

  get remaining(): number {
    return this.input.length - this.offset;
  }

  /** The unread rest of the input (a view). */
  rest(): Uint8Array {
    return this.input.subarray(this.offset);
  }

  bytes(length: number, what: string): Uint8Array {
    if (length > this.remaining) {
      throw new ParseError(`truncated ${what}: needs ${length} bytes, ${this.remaining} left`, {
        field: what,
      });
    }
    const out = this.input.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  uint(width: number, what: string): number {
    let value = 0;
    for (const byte of this.bytes(width, what)) value = value * 256 + byte;
    return value;
  }

  lengthPrefix(what: string): number {
    const first = this.uint(1, what);
    if (first <= 127) return first;
    const width = first & 0x7f;
    if (width > MAX_INT_BYTES) {
      throw new ParseError(`${what}: length prefix of ${width} bytes (max ${MAX_INT_BYTES})`, {
        field: what,
      });
    }
    return this.uint(width, what);
  }

  varBytes(what: string): Uint8Array {
    return this.bytes(this.lengthPrefix(what), what);
  }

  varUint(what: string): number {
    const bytes = this.varBytes(what);
    if (bytes.length > MAX_INT_BYTES) {
      throw new ParseError(`${what}: VARUINT of ${bytes.length} bytes (max ${MAX_INT_BYTES})`, {
        field: what,
      });
    }
    let value = 0;
    for (const byte of bytes) value = value * 256 + byte;
    return value;
  }
}

/**
 * base64url without padding (the URI alphabet is already checked by the caller's regex). Unused trailing bits
 * must be zero, so every byte string has exactly one accepted text form and parsed URIs re-serialize identically
 * (0.4.1 silently ignored such bits).
 */
export function decodeBase64Url(text: string, what: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64UrlDecode(text);
  } catch {
    throw new ParseError(`${what}: invalid base64url`, { field: what });
  }
  const tail = text.length % 4;
  if (tail !== 0 && base64UrlEncode(bytes.subarray(bytes.length - (tail - 1))) !== text.slice(-tail)) {
    throw new ParseError(`${what}: non-canonical base64url (unused bits set)`, { field: what });
  }
  return bytes;
}
