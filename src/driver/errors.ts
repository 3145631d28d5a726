/**
 * Errors the driver throws. Every one is a `DriverError` with a short `message` (the node's own message for an
 * HTTP error), the HTTP `status` (undefined when no answer came) and machine-readable `details`; the error
 * that led to it, if any, is its standard `cause`.
 */
export class DriverError extends Error {
  /** the HTTP status of the node's answer; undefined for network errors, timeouts and local mistakes */
  readonly status: number | undefined;
  readonly details: Record<string, unknown>;

  constructor(
    message: string,
    status: number | undefined,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.details = details;
  }
}

/** 404: the node knows no such transaction (for GET /transactions/{id}: none in a valid or undecided block). */
export class TransactionNotFound extends DriverError {}

/**
 * 400: the node refused the transaction; `message` is its reason, e.g. `DoubleSpend: input … was already spent
 * by …`, and `details.reason` the name before the colon (`DoubleSpend`, `InvalidSignature`, …).
 */
export class InvalidTransaction extends DriverError {
  get reason(): string | undefined {
    return typeof this.details.reason === 'string' ? this.details.reason : undefined;
  }
}

/** Any other answer the driver did not expect: another status (405, 413, 500), or a body that is not JSON. */
export class UnexpectedResponse extends DriverError {}

/** No answer: the node is unreachable, the connection broke, or the request was aborted; `cause` says why. */
export class NetworkError extends DriverError {}

/** `waitFor` did not see the status it waited for in time. */
export class TimeoutError extends DriverError {}

/** A `Client` without a keypair, or whose public key is not the private key's. */
export class KeypairError extends DriverError {}
