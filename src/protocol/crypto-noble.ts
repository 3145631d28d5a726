import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { sha256 as nobleSha256, sha512 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { base58Decode, base58Encode } from './base58.ts';
import { concatBytes, equalBytes, toHex, utf8 } from './bytes.ts';
import { EncodingError } from './errors.ts';

/**
 * The crypto primitives in pure JavaScript (`@noble/curves`, `@noble/hashes`) for browsers: the same functions,
 * with the same signatures and results, as `crypto-node.ts`. package.json "imports" `#crypto` picks this one
 * under the `browser` condition (esbuild `platform: 'browser'`, Vite, webpack).
 */

type Message = Uint8Array | string;

function bytesOf(message: Message): Uint8Array {
  return typeof message === 'string' ? utf8(message) : message;
}

/** FIPS 202 SHA3-256, lower-case hex (PROTOCOL R3). Text is hashed as UTF-8. */
export function sha3Hex(data: Message): string {
  return toHex(sha3_256(bytesOf(data)));
}

/** Plain SHA-256, used inside crypto-conditions. */
export function sha256(data: Message): Uint8Array {
  return nobleSha256(bytesOf(data));
}

/** 32 bytes from the platform's CSPRNG (`crypto.getRandomValues`). */
export function randomSeed(): Uint8Array {
  return randomBytes(32);
}

function rawKey(key: Uint8Array | string, what: string): Uint8Array {
  const raw = typeof key === 'string' ? base58Decode(key) : key;
  if (raw.length !== 32) throw new EncodingError(`${what} must be 32 bytes, got ${raw.length}`);
  return raw;
}

// Deriving a public key is a scalar multiplication; signing a transaction derives it several times per key.
const KEY_CACHE_LIMIT = 1_000;
const publicKeyCache = new Map<string, Uint8Array>();

/** Raw public key of a private key (base58 seed or 32 raw bytes). */
export function publicKeyBytes(privateKey: Uint8Array | string): Uint8Array {
  const id = typeof privateKey === 'string' ? privateKey : base58Encode(privateKey);
  const cached = publicKeyCache.get(id);
  if (cached) return cached;
  const publicKey = ed25519.getPublicKey(rawKey(privateKey, 'an Ed25519 private key'));
  if (publicKeyCache.size >= KEY_CACHE_LIMIT)
    publicKeyCache.delete(publicKeyCache.keys().next().value as string);
  publicKeyCache.set(id, publicKey);
  return publicKey;
}

/** Ed25519 (RFC 8032) signature over the message bytes (UTF-8 for text, PROTOCOL R1). */
export function signMessage(message: Message, privateKey: Uint8Array | string): Uint8Array {
  return ed25519.sign(bytesOf(message), rawKey(privateKey, 'an Ed25519 private key'));
}

const Point = ed25519.Point;
const L = Point.Fn.ORDER;

/**
 * False for a wrong signature and for a malformed key or signature; never throws on bad input.
 *
 * The check OpenSSL (so a node) makes, not noble's `ed25519.verify`: S < L; A decoded as OpenSSL decodes it
 * (an unreduced y is accepted); then the cofactorless equation compared as bytes, encode([S]B − [k]A) = R with
 * k = SHA-512(R ‖ A ‖ M) mod L. noble's own check is cofactored and refuses small-order and non-canonical
 * keys: on crafted signatures the two would disagree, and a browser would accept a fulfillment every node
 * refuses, or the other way round (test/protocol/crypto-backends.test.ts has such signatures).
 */
export function verifyMessage(
  message: Message,
  signature: Uint8Array,
  publicKey: Uint8Array | string,
): boolean {
  if (signature.length !== 64) return false;
  try {
    const key = rawKey(publicKey, 'an Ed25519 public key');
    const r = signature.subarray(0, 32);
    const s = bytesToNumberLE(signature.subarray(32));
    if (s >= L) return false;
    const A = Point.fromBytes(key, true);
    const k = bytesToNumberLE(sha512(concatBytes(r, key, bytesOf(message)))) % L;
    const expectedR = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k));
    return equalBytes(expectedR.toBytes(), r);
  } catch {
    return false;
  }
}
