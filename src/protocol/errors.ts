/**
 * Base of every error this package throws on purpose. `details` carries machine-readable context
 * (which input, which field) so callers such as the HTTP layer can report it without parsing messages.
 * The error that led to this one goes in `options.cause` (the standard `Error.cause`), not in `details`.
 */
export class BigchainDBError extends Error {
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

/** A value cannot be put into canonical JSON (non-finite number, unsafe integer, lone surrogate, ...). */
export class SerializationError extends BigchainDBError {}

/** Malformed base58 / base64url text or a key of the wrong length. */
export class EncodingError extends BigchainDBError {}

/** A private key does not belong to any owner that has to sign. */
export class KeypairMismatchException extends BigchainDBError {}

/** The `code` of a Node.js system error or a PostgreSQL error (e.g. `ENOENT`, `42P01`), if it has one. */
export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

/** The message of anything thrown, for a sentence that names what went wrong. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
