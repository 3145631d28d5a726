/** The protocol core: pure functions and types, no storage and no I/O. */
export * from './errors.ts';
export * from './json.ts';
export * from './crypto.ts';
export { base58Decode, base58Encode } from './base58.ts';
export * from './cc/index.ts';
export * from './transaction.ts';
export * from './schema.ts';
export * from './validation-errors.ts';
export * from './validation.ts';
export * from './block.ts';
export * from './vote.ts';
export * from './stored.ts';
export * from './election.ts';
export * from './consensus.ts';
