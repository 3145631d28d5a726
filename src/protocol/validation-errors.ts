import { BigchainDBError } from './errors.ts';

/**
 * Why a transaction or block is not valid. Each 0.6 exception is a distinct class so callers (the vote
 * pipeline, the HTTP 400 body) can tell the reasons apart without parsing messages.
 */
export class ValidationError extends BigchainDBError {}

/** Structurally malformed: not an object, a missing field, a field of the wrong type. */
export class SchemaError extends ValidationError {}

/** The operation is not allowed here (non-federation creator, empty block, ...). */
export class OperationError extends ValidationError {}

/** An input names a transaction (or an output of it) that is not in a block decided valid. */
export class TransactionDoesNotExist extends ValidationError {}

/** An input is already spent by another transaction in a valid or undecided block, or earlier in the batch. */
export class DoubleSpend extends ValidationError {}

/** An id does not equal the hash of the body it names. */
export class InvalidHash extends ValidationError {}

/** A fulfillment does not parse, does not match the condition it spends, or does not validate. */
export class InvalidSignature extends ValidationError {}

/** A transaction input is malformed or not allowed (e.g. an input on a CREATE). */
export class InputError extends ValidationError {}

/** A transaction that is already in a valid or undecided block is submitted again. */
export class ReplayError extends ValidationError {}
