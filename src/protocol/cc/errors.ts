import { BigchainDBError } from '../errors.ts';

/** Base of every error the crypto-conditions layer throws on purpose. */
export class CryptoConditionError extends BigchainDBError {}

/** Malformed URI, binary or dict: bad syntax, truncated, oversized, nested too deep, wrong field types. */
export class ParseError extends CryptoConditionError {}

/** A fulfillment type id that is unknown, or known but not supported here (RSA, type 3). */
export class UnsupportedTypeError extends CryptoConditionError {}

/** A timestamp that does not match `^\d{10}(\.\d+)?$` (0.4.1 raised ValueError; this is its typed form). */
export class InvalidTimeError extends CryptoConditionError {}

/** The object lacks what the operation needs: a public key, a signature, enough fulfilled weight. */
export class MissingDataError extends CryptoConditionError {}
