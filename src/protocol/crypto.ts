import { publicKeyBytes, randomSeed, sha3Hex, signMessage, verifyMessage } from '#crypto';
import { base58Decode, base58Encode } from './base58.ts';

/**
 * Everything that signs, verifies or hashes goes through this module. The primitives come from `#crypto`
 * (package.json "imports"): `crypto-node.ts` on node:crypto (OpenSSL) by default, `crypto-noble.ts` in pure
 * JavaScript under the `browser` condition. What is built on them lives here, once.
 */
export { publicKeyBytes, randomSeed, sha256, sha3Hex, signMessage, verifyMessage } from '#crypto';

export interface KeyPair {
  /** base58 of the 32-byte Ed25519 seed */
  privateKey: string;
  /** base58 of the 32-byte Ed25519 public key */
  publicKey: string;
}

type Message = Uint8Array | string;

/** The seed's `hash_data`: SHA3-256 of the UTF-8 text, hex. */
export function hashData(text: string): string {
  return sha3Hex(text);
}

/**
 * A new Ed25519 keypair from the platform's CSPRNG, both keys base58 (the seed's `generate_key_pair`).
 *
 * @example
 * ```ts
 * import { generateKeyPair, signToBase58, verifyBase58 } from 'bigchaindb/protocol';
 *
 * const alice = generateKeyPair();
 * const signature = signToBase58('hello', alice.privateKey);
 * console.log(verifyBase58('hello', signature, alice.publicKey)); // true
 * ```
 */
export function generateKeyPair(): KeyPair {
  const seed = randomSeed();
  return { privateKey: base58Encode(seed), publicKey: base58Encode(publicKeyBytes(seed)) };
}

/** The base58 public key of a private key (its 32-byte seed, base58 or raw). */
export function publicKeyFromPrivate(privateKey: Uint8Array | string): string {
  return base58Encode(publicKeyBytes(privateKey));
}

/** Base58 signature, the form blocks and votes carry. */
export function signToBase58(message: Message, privateKey: Uint8Array | string): string {
  return base58Encode(signMessage(message, privateKey));
}

/** Whether `signature` (base58) is `publicKey`'s Ed25519 signature of `message` (text as UTF-8); never throws. */
export function verifyBase58(message: Message, signature: string, publicKey: string): boolean {
  let raw: Uint8Array;
  try {
    raw = base58Decode(signature);
  } catch {
    return false;
  }
  return verifyMessage(message, raw, publicKey);
}

/** Whether text is a base58 encoding of exactly 32 bytes (a plausible Ed25519 key). */
export function isBase58Key(text: unknown): text is string {
  if (typeof text !== 'string' || text.length < 32 || text.length > 44) return false;
  try {
    return base58Decode(text).length === 32;
  } catch {
    return false;
  }
}

/** The seed's `timestamp()`: integer Unix seconds as a string, rounded half to even like Python's round. */
export function timestamp(nowMs: number = Date.now()): string {
  const seconds = nowMs / 1000;
  const floor = Math.floor(seconds);
  const frac = seconds - floor;
  // `% 2` of a negative odd floor is -1, hence the abs.
  const rounded = frac > 0.5 || (frac === 0.5 && Math.abs(floor % 2) === 1) ? floor + 1 : floor;
  return String(rounded);
}
