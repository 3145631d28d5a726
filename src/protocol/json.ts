import { SerializationError } from './errors.ts';

/** JSON values that canonical serialization accepts. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Deeper structures are refused rather than risking a stack overflow on hostile input. */
export const MAX_JSON_DEPTH = 256;

const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;

/** A quick test for the characters worth a closer look: U+0000 and any surrogate. */
const SUSPECT = /[\u0000\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * RFC 8785 (JSON Canonicalization Scheme): object keys sorted by UTF-16 code units, no whitespace,
 * minimal string escapes, numbers in ECMAScript form. Integers outside ±(2^53−1), non-finite numbers
 * and lone surrogates cannot round-trip and are refused (PROTOCOL R2); so is U+0000 in any string, key or
 * value, which PostgreSQL's `json`/`jsonb` cannot read back. Properties whose value is
 * `undefined` are omitted, exactly as `JSON.stringify` and a JSON round trip would.
 */
export function serialize(value: unknown): string {
  // Most values (every document parsed from canonical text, every transaction built here) are already in
  // canonical key order with nothing to refuse: then the engine's JSON.stringify writes the same text, at a
  // fraction of the cost of building it piece by piece.
  if (stringifiesCanonically(value, 0)) return JSON.stringify(value);
  try {
    return write(value, 0);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    const path = '$' + error.segments.reverse().join('');
    throw new SerializationError(`${path}: ${error.reason}`, { path });
  }
}

/**
 * Whether JSON.stringify(value) is its canonical text: plain objects whose keys are already sorted and
 * defined, arrays without holes, safe numbers, strings and keys without U+0000 or surrogates (a surrogate
 * pair is fine too, but rare enough to leave to `write`). False sends the value the long way, which sorts,
 * and refuses with a path.
 */
function stringifiesCanonically(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      return !SUSPECT.test(value);
    case 'number':
      return Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value));
    case 'boolean':
      return true;
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_JSON_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!stringifiesCanonically(value[i], depth + 1)) return false;
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      const record = value as Record<string, unknown>;
      let previous: string | undefined;
      for (const key in record) {
        if (!Object.hasOwn(record, key) || SUSPECT.test(key)) return false;
        // code-unit order: RFC 8785 sorts keys by UTF-16 code units, which is what < compares.
        if (previous !== undefined && !(previous < key)) return false;
        if (!stringifiesCanonically(record[key], depth + 1)) return false;
        previous = key;
      }
      return true;
    }
    default:
      return false;
  }
}

/** Raised inside `write`; each enclosing level adds its key, so paths cost nothing unless something is refused. */
class Refusal extends Error {
  readonly segments: string[] = [];
  constructor(readonly reason: string) {
    super(reason);
  }
}

// Transactions repeat a few dozen keys millions of times: quote each once.
const QUOTED_KEYS = new Map<string, string>();
const QUOTED_KEYS_LIMIT = 4096;

function quoteKey(key: string): string {
  let quoted = QUOTED_KEYS.get(key);
  if (quoted === undefined) {
    quoted = write(key, 0);
    if (QUOTED_KEYS.size < QUOTED_KEYS_LIMIT) QUOTED_KEYS.set(key, quoted);
  }
  return quoted;
}

function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      if (SUSPECT.test(value)) {
        if (value.includes('\u0000')) throw new Refusal('string contains U+0000 (NUL)');
        if (LONE_SURROGATE.test(value)) throw new Refusal('string contains a lone surrogate');
      }
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal(`${value} is not a finite number`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new Refusal(`integer ${value} is outside ±(2^53−1) and cannot round-trip`);
      }
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_JSON_DEPTH) throw new Refusal(`nested deeper than ${MAX_JSON_DEPTH} levels`);
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          try {
            out += write(value[i], depth + 1);
          } catch (error) {
            if (error instanceof Refusal) error.segments.push(`[${i}]`);
            throw error;
          }
        }
        return out + ']';
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null)
        throw new Refusal('only plain objects can be serialized');
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      for (const key of keys) {
        const item = record[key];
        if (item === undefined) continue;
        if (out.length > 1) out += ',';
        try {
          out += quoteKey(key) + ':' + write(item, depth + 1);
        } catch (error) {
          // A key that is not a plain name is quoted, so a path never carries a raw control character.
          if (error instanceof Refusal)
            error.segments.push(PLAIN_KEY.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
          throw error;
        }
      }
      return out + '}';
    }
    default:
      throw new Refusal(`a ${typeof value} is not a JSON value`);
  }
}

/** A deep copy through canonical JSON: what another node would see after the wire. */
export function jsonClone<T>(value: T): T {
  return JSON.parse(serialize(value)) as T;
}
