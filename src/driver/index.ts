/**
 * `bigchaindb/driver`: a client for a node's HTTP API, for Node.js and browsers (global `fetch`; in a browser
 * bundle the crypto is pure JavaScript, see docs/driver.md). Small standalone functions over a `Connection`,
 * and the seed's `Client` on top of them.
 */
export { Client, tempClient, type ClientOptions } from './client.ts';
export {
  getNodeInfo,
  getStatus,
  getTransaction,
  postTransaction,
  waitFor,
  type NodeInfo,
  type SubmittedTransaction,
  type TransactionStatus,
  type WaitForOptions,
} from './actions.ts';
export type { Connection } from './http.ts';
export {
  DriverError,
  InvalidTransaction,
  KeypairError,
  NetworkError,
  TimeoutError,
  TransactionNotFound,
  UnexpectedResponse,
} from './errors.ts';

// The protocol builders a client needs for custom conditions (threshold, hashlock, timeout, escrow).
export {
  generateKeyPair,
  publicKeyFromPrivate,
  hashData,
  timestamp,
  type KeyPair,
} from '../protocol/crypto.ts';
export {
  createAndSignTx,
  createTransaction,
  getFulfillmentMessage,
  getHashData,
  lookupInTransactions,
  ownersCondition,
  serializeFulfillmentMessage,
  signTransaction,
  withCondition,
  withFulfillment,
  TransactionBuildError,
  type ConditionEntry,
  type CreateTransactionOptions,
  type FulfillmentEntry,
  type InputConditionLookup,
  type Operation,
  type Transaction,
  type TransactionInput,
} from '../protocol/transaction.ts';
export * from '../protocol/cc/index.ts';
export { BigchainDBError, KeypairMismatchException } from '../protocol/errors.ts';
export type { JsonObject, JsonValue } from '../protocol/json.ts';
