import {
  hash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { base58Decode, base58Encode } from './base58.ts';
import { utf8 } from './bytes.ts';
import { EncodingError } from './errors.ts';

/**
 * The crypto primitives on node:crypto (OpenSSL), what a node runs. `crypto-noble.ts` exports the same
 * functions in pure JavaScript for browsers; package.json "imports" `#crypto` picks one of the two and
 * `crypto.ts` builds everything else on top. Both must agree byte for byte (test/protocol/crypto-backends.test.ts).
 */

type Message = Uint8Array | string;

const PKCS8_ED25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_ED25519_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

function bytesOf(message: Message): Uint8Array {
  return typeof message === 'string' ? utf8(message) : message;
}

/** FIPS 202 SHA3-256, lower-case hex (PROTOCOL R3). Text is hashed as UTF-8. */
export function sha3Hex(data: Message): string {
  // One-shot hashing (node ≥ 20.12) hashes text as UTF-8 without a JavaScript-side copy.
  return hash('sha3-256', data, 'hex');
}

/** Plain SHA-256, used inside crypto-conditions. */
export function sha256(data: Message): Uint8Array {
  return new Uint8Array(hash('sha256', data, 'buffer'));
}

/** 32 bytes from node:crypto's CSPRNG: a new private key. */
export function randomSeed(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

// KeyObjects are expensive to build (≈40 % of a verification); keep recent ones.
const KEY_CACHE_LIMIT = 10_000;
const publicKeyCache = new Map<string, KeyObject>();
const privateKeyCache = new Map<string, { key: KeyObject; publicKey: Uint8Array }>();

function remember<V>(cache: Map<string, V>, id: string, value: V): V {
  if (cache.size >= KEY_CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(id, value);
  return value;
}

function rawKey(key: Uint8Array | string, what: string): Uint8Array {
  const raw = typeof key === 'string' ? base58Decode(key) : key;
  if (raw.length !== 32) throw new EncodingError(`${what} must be 32 bytes, got ${raw.length}`);
  return raw;
}

function privateKeyObject(privateKey: Uint8Array | string): { key: KeyObject; publicKey: Uint8Array } {
  const id = typeof privateKey === 'string' ? privateKey : base58Encode(privateKey);
  const cached = privateKeyCache.get(id);
  if (cached) return cached;
  const seed = rawKey(privateKey, 'an Ed25519 private key');
  const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32);
  der.set(PKCS8_ED25519_PREFIX);
  der.set(seed, PKCS8_ED25519_PREFIX.length);
  const key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
  return remember(privateKeyCache, id, { key, publicKey });
}

function publicKeyObject(publicKey: Uint8Array | string): KeyObject {
  if (typeof publicKey !== 'string' && publicKey.length !== 32) rawKey(publicKey, 'an Ed25519 public key');
  // Raw keys are cached under their bytes as text (cheaper than base58 on every verification), behind a NUL
  // that no base58 text contains, so the two kinds of id can never collide.
  const id = typeof publicKey === 'string' ? publicKey : '\0' + String.fromCharCode(...publicKey);
  const cached = publicKeyCache.get(id);
  if (cached) return cached;
  const raw = rawKey(publicKey, 'an Ed25519 public key');
  const der = new Uint8Array(SPKI_ED25519_PREFIX.length + 32);
  der.set(SPKI_ED25519_PREFIX);
  der.set(raw, SPKI_ED25519_PREFIX.length);
  return remember(
    publicKeyCache,
    id,
    createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }),
  );
}

/** Raw public key of a private key (base58 seed or 32 raw bytes). */
export function publicKeyBytes(privateKey: Uint8Array | string): Uint8Array {
  return privateKeyObject(privateKey).publicKey;
}

/** Ed25519 (RFC 8032) signature over the message bytes (UTF-8 for text, PROTOCOL R1). */
export function signMessage(message: Message, privateKey: Uint8Array | string): Uint8Array {
  return new Uint8Array(sign(null, bytesOf(message), privateKeyObject(privateKey).key));
}

/** False for a wrong signature and for a malformed key or signature; never throws on bad input. */
export function verifyMessage(
  message: Message,
  signature: Uint8Array,
  publicKey: Uint8Array | string,
): boolean {
  if (signature.length !== 64) return false;
  let key: KeyObject;
  try {
    key = publicKeyObject(publicKey);
  } catch {
    return false;
  }
  try {
    return verify(null, bytesOf(message), key, signature);
  } catch {
    return false;
  }
}
