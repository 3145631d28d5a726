import { SerializationError } from './errors.ts';

/** JSON values that canonical serialization accepts. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Deeper structures are refused rather than risking a stack overflow on hostile input. */
export const MAX_JSON_DEPTH = 256;

const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * RFC 8785 (JSON Canonicalization Scheme): object keys sorted by UTF-16 code units, no whitespace,
 * minimal string escapes, numbers in ECMAScript form. Integers outside ±(2^53−1), non-finite numbers
 * and lone surrogates cannot round-trip and are refused (PROTOCOL R2). Properties whose value is
 * `undefined` are omitted, exactly as `JSON.stringify` and a JSON round trip would.
 */
export function serialize(value: unknown): string {
  return write(value, 0, '$');
}

function write(value: unknown, depth: number, path: string): string {
  switch (typeof value) {
    case 'string':
      if (SURROGATE.test(value) && LONE_SURROGATE.test(value)) {
        throw new SerializationError(`${path}: string contains a lone surrogate`, { path });
      }
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new SerializationError(`${path}: ${value} is not a finite number`, { path });
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new SerializationError(`${path}: integer ${value} is outside ±(2^53−1) and cannot round-trip`, {
          path,
        });
      }
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_JSON_DEPTH) {
        throw new SerializationError(`${path}: nested deeper than ${MAX_JSON_DEPTH} levels`, { path });
      }
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += write(value[i], depth + 1, `${path}[${i}]`);
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new SerializationError(`${path}: only plain objects can be serialized`, { path });
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const item = record[key];
        if (item === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += write(key, depth + 1, path) + ':' + write(item, depth + 1, `${path}.${key}`);
      }
      return out + '}';
    }
    default:
      throw new SerializationError(`${path}: a ${typeof value} is not a JSON value`, { path });
  }
}

/** A deep copy through canonical JSON: what another node would see after the wire. */
export function jsonClone<T>(value: T): T {
  return JSON.parse(serialize(value)) as T;
}
