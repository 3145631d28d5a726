import {
  Condition,
  Ed25519Fulfillment,
  Fulfillment,
  ThresholdSha256Fulfillment,
  type FulfillmentDetails,
} from './cc/index.ts';
import { publicKeyFromPrivate, hashData, timestamp as currentTimestamp } from './crypto.ts';
import { BigchainDBError, KeypairMismatchException } from './errors.ts';
import { serialize, type JsonObject } from './json.ts';

/** The three operations of PROTOCOL R4; anything else is rejected by validation. */
export const OPERATIONS = ['CREATE', 'TRANSFER', 'GENESIS'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** A reference to an output: condition `cid` of transaction `txid`. */
export interface TransactionInput {
  txid: string;
  cid: number;
}

export interface FulfillmentEntry {
  owners_before: string[];
  input: TransactionInput | null;
  /** `cf:` URI, or null while unsigned */
  fulfillment: string | null;
  fid: number;
}

export interface ConditionBody {
  /** present when built by the helpers; a condition may also be given by its URI alone */
  details?: FulfillmentDetails;
  uri: string;
}

export interface ConditionEntry {
  owners_after: string[] | null;
  condition: ConditionBody;
  cid: number;
}

export interface TransactionData {
  uuid: string;
  payload: JsonObject | null;
}

export interface TransactionBody {
  version: 1;
  fulfillments: FulfillmentEntry[];
  conditions: ConditionEntry[];
  operation: string;
  timestamp: string;
  data: TransactionData;
}

export interface Transaction {
  id: string;
  transaction: TransactionBody;
}

export interface CreateTransactionOptions {
  payload?: JsonObject | null;
  /** fixed values make transactions reproducible in tests and vectors */
  timestamp?: string;
  uuid?: string;
}

/** Thrown when a transaction cannot be built or signed as asked (not a validation failure). */
export class TransactionBuildError extends BigchainDBError {}

function asList<T>(value: T | readonly T[] | null | undefined): T[] {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}

/**
 * The condition `createTransaction` gives a list of new owners: one key → Ed25519; several → an n-of-n
 * threshold of Ed25519 subconditions in the order given; none → no condition (the caller appends one).
 */
export function ownersCondition(ownersAfter: readonly string[]): Fulfillment | undefined {
  if (ownersAfter.length === 0) return undefined;
  if (ownersAfter.length === 1) return new Ed25519Fulfillment(ownersAfter[0]);
  const threshold = new ThresholdSha256Fulfillment(ownersAfter.length);
  for (const owner of ownersAfter) threshold.addSubfulfillment(new Ed25519Fulfillment(owner));
  return threshold;
}

/** `{details, uri}` of a fulfillment structure (its condition), or `{uri}` of a bare condition. */
export function conditionBody(condition: Fulfillment | Condition): ConditionBody {
  if (condition instanceof Condition) return { uri: condition.serializeUri() };
  return { details: condition.toDict(), uri: condition.conditionUri };
}

// One key's condition is built several times per transaction a node admits (its owner's, the node's own):
// each base58 key decoded and encoded again. Kept per key; each caller gets its own copy.
const OWNER_CONDITIONS_LIMIT = 10_000;
const ownerConditions = new Map<string, ConditionBody>();

/** conditionBody(ownersCondition(owners)); undefined for no owner. Throws as ownersCondition does. */
export function ownersConditionBody(owners: readonly string[]): ConditionBody | undefined {
  if (owners.length !== 1) {
    const condition = ownersCondition(owners);
    return condition === undefined ? undefined : conditionBody(condition);
  }
  const owner = owners[0]!;
  let body = ownerConditions.get(owner);
  if (body === undefined) {
    body = conditionBody(new Ed25519Fulfillment(owner));
    if (ownerConditions.size >= OWNER_CONDITIONS_LIMIT)
      ownerConditions.delete(ownerConditions.keys().next().value as string);
    ownerConditions.set(owner, body);
  }
  return { details: { ...body.details! }, uri: body.uri };
}

/**
 * The seed's `create_transaction(owners_before, owners_after, inputs, operation, payload)`: one fulfillment per
 * input (a single input-less one for CREATE/GENESIS) and one condition per fulfillment, all to `ownersAfter`.
 */
export function createTransaction(
  ownersBefore: string | readonly string[] | null | undefined,
  ownersAfter: string | readonly string[] | null | undefined,
  inputs: TransactionInput | readonly TransactionInput[] | null | undefined,
  operation: Operation,
  options: CreateTransactionOptions = {},
): Transaction {
  const payload = options.payload ?? null;
  if (payload !== null && (typeof payload !== 'object' || Array.isArray(payload))) {
    throw new TransactionBuildError('`payload` must be an object or null');
  }
  const before = asList(ownersBefore);
  const after = asList(ownersAfter);
  const inputList = asList(inputs);
  const fulfillments: FulfillmentEntry[] =
    inputList.length > 0
      ? inputList.map((input, fid) => ({
          fid,
          fulfillment: null,
          input: { cid: input.cid, txid: input.txid },
          owners_before: [...before],
        }))
      : [{ fid: 0, fulfillment: null, input: null, owners_before: [...before] }];
  const conditions: ConditionEntry[] =
    after.length > 0
      ? fulfillments.map((f) => ({
          cid: f.fid,
          condition: ownersConditionBody(after)!,
          owners_after: [...after],
        }))
      : [];
  // Every object in canonical key order: serialize then takes its fast path (json.ts).
  const transaction: TransactionBody = {
    conditions,
    data: { payload, uuid: options.uuid ?? globalThis.crypto.randomUUID() },
    fulfillments,
    operation,
    timestamp: options.timestamp ?? currentTimestamp(),
    version: 1,
  };
  return { id: getHashData(transaction), transaction };
}

/**
 * The transaction id: SHA3-256 of the canonical body with every fulfillment string set to null (PROTOCOL R4),
 * so that signing does not change the id. Accepts the whole transaction or its body.
 */
export function getHashData(tx: Transaction | TransactionBody): string {
  const body = 'transaction' in tx ? tx.transaction : tx;
  return hashData(serializeUnsignedBody(body));
}

/** Canonical text of the body with fulfillments nulled, without copying the whole transaction. */
export function serializeUnsignedBody(body: TransactionBody): string {
  const fulfillments = Array.isArray(body.fulfillments)
    ? body.fulfillments.map((f) => (f && typeof f === 'object' ? { ...f, fulfillment: null } : f))
    : body.fulfillments;
  return serialize({ ...body, fulfillments });
}

export interface FulfillmentMessage {
  operation: string;
  timestamp: string;
  data: TransactionData;
  version: 1;
  id: string;
  fulfillment: FulfillmentEntry;
  condition: ConditionEntry;
}

/**
 * What fulfillment `fid` signs (PROTOCOL R4): the transaction's operation, timestamp, data, version and id, the
 * fulfillment with its own `fulfillment` nulled, and this transaction's condition at index `fid`.
 */
export function getFulfillmentMessage(tx: Transaction, fulfillment: FulfillmentEntry): FulfillmentMessage {
  const body = tx.transaction;
  const condition = body.conditions[fulfillment.fid];
  if (!condition) {
    throw new TransactionBuildError(
      `fulfillment ${fulfillment.fid} has no condition at index ${fulfillment.fid} to sign; append a condition first`,
      { fid: fulfillment.fid },
    );
  }
  return {
    condition,
    data: body.data,
    fulfillment: { ...fulfillment, fulfillment: null },
    id: tx.id,
    operation: body.operation,
    timestamp: body.timestamp,
    version: body.version,
  };
}

/** The canonical text of getFulfillmentMessage: the exact bytes (as UTF-8) fulfillment `fid` signs. */
export function serializeFulfillmentMessage(tx: Transaction, fulfillment: FulfillmentEntry): string {
  return serialize(getFulfillmentMessage(tx, fulfillment));
}

/** The condition an input must satisfy: the spent output's, or for CREATE/GENESIS Ed25519 of owners_before[0]. */
export type InputConditionLookup = (fulfillment: FulfillmentEntry) => ConditionBody | undefined;

/** The input condition of an input-less (CREATE/GENESIS) fulfillment; undefined for a real input. */
export function createInputCondition(fulfillment: FulfillmentEntry): ConditionBody | undefined {
  const owner = fulfillment.owners_before[0];
  if (fulfillment.input !== null || owner === undefined) return undefined;
  return ownersConditionBody([owner]);
}

/** A lookup over transactions the caller already holds (e.g. fetched from a node). */
export function lookupInTransactions(transactions: Iterable<Transaction>): InputConditionLookup {
  const byId = new Map<string, Transaction>();
  for (const tx of transactions) byId.set(tx.id, tx);
  return (f) => {
    if (!f.input) return createInputCondition(f);
    return byId.get(f.input.txid)?.transaction.conditions.find((c) => c.cid === f.input!.cid)?.condition;
  };
}

/**
 * Sign every fulfillment of `tx` with whichever of `privateKeys` its input condition needs.
 *
 * Unlike 0.6 (flat n-of-n only), any structure built from Ed25519, preimage, timeout and (inverted) thresholds
 * works: every Ed25519 leaf whose key is among `privateKeys` is signed, leaves without a key and branches
 * that cannot be satisfied are written as bare conditions, and the threshold serializer then keeps the
 * smallest sufficient set. So one key of a 2-of-3 plus another key later, or the execute/abort branch of an
 * escrow, all sign with this one function. A fulfillment whose input condition carries no `details` (given by
 * URI alone, like the seed's hashlock) is left as the caller set it.
 */
export function signTransaction(
  tx: Transaction,
  privateKeys: string | readonly string[],
  lookupInputCondition: InputConditionLookup = createInputCondition,
): Transaction {
  const keys = new Map<string, string>();
  for (const privateKey of asList(privateKeys)) keys.set(publicKeyFromPrivate(privateKey), privateKey);
  const signed: Transaction = {
    id: tx.id,
    transaction: {
      ...tx.transaction,
      fulfillments: tx.transaction.fulfillments.map((f) => ({ ...f })),
    },
  };
  for (const entry of signed.transaction.fulfillments) {
    const inputCondition = lookupInputCondition(entry);
    if (!inputCondition) {
      throw new TransactionBuildError(`fulfillment ${entry.fid}: the condition of its input is unknown`, {
        fid: entry.fid,
      });
    }
    if (!inputCondition.details) {
      if (entry.fulfillment) continue;
      throw new TransactionBuildError(
        `fulfillment ${entry.fid}: the input condition ${inputCondition.uri} has no details; build its fulfillment by hand`,
        { fid: entry.fid },
      );
    }
    const message = serializeFulfillmentMessage(signed, entry);
    const structure = Fulfillment.fromDict(inputCondition.details);
    signLeaves(structure, message, keys);
    const fulfillable = fulfillablePart(structure);
    if (!fulfillable) throw missingKeys(entry, structure);
    entry.fulfillment = fulfillable.serializeUri();
  }
  return signed;
}

function signLeaves(structure: Fulfillment, message: string, keys: ReadonlyMap<string, string>): void {
  if (structure instanceof Ed25519Fulfillment) {
    const privateKey = structure.publicKey && keys.get(structure.publicKeyBase58);
    if (privateKey) structure.sign(message, privateKey);
  } else if (structure instanceof ThresholdSha256Fulfillment) {
    for (const entry of structure.subconditions) {
      if (entry.body instanceof Fulfillment) signLeaves(entry.body, message, keys);
    }
  }
}

/**
 * The structure with every unsigned Ed25519 leaf and every unsatisfiable branch replaced by its condition,
 * or undefined when not even the root can be satisfied.
 */
function fulfillablePart(structure: Fulfillment): Fulfillment | undefined {
  if (structure instanceof Ed25519Fulfillment) return structure.signature ? structure : undefined;
  if (!(structure instanceof ThresholdSha256Fulfillment)) return structure;
  const rebuilt = new (structure.constructor as typeof ThresholdSha256Fulfillment)(structure.threshold);
  let weight = 0;
  for (const entry of structure.subconditions) {
    const part = entry.body instanceof Fulfillment ? fulfillablePart(entry.body) : undefined;
    if (part) {
      rebuilt.addSubfulfillment(part, entry.weight);
      weight += entry.weight;
    } else {
      const condition = entry.body instanceof Fulfillment ? entry.body.condition : entry.body;
      rebuilt.addSubcondition(condition, entry.weight);
    }
  }
  return weight >= structure.threshold ? rebuilt : undefined;
}

function missingKeys(entry: FulfillmentEntry, structure: Fulfillment): KeypairMismatchException {
  if (structure instanceof Ed25519Fulfillment) {
    return new KeypairMismatchException(
      `fulfillment ${entry.fid}: public key ${structure.publicKeyBase58} is not a pair to any of the private keys`,
      { fid: entry.fid, publicKey: structure.publicKeyBase58 },
    );
  }
  return new KeypairMismatchException(
    `fulfillment ${entry.fid}: the private keys given cannot satisfy the input condition`,
    { fid: entry.fid },
  );
}

/**
 * The seed's `create_and_sign_tx`: createTransaction, then signTransaction with `privateKey`.
 *
 * @example
 * ```ts
 * import { createAndSignTx, generateKeyPair, serialize } from 'bigchaindb/protocol';
 *
 * const alice = generateKeyPair();
 * // A client CREATE: the node that admits it checks alice's signature and issues the asset to her.
 * const tx = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
 *   payload: { msg: 'Hello BigchainDB!' },
 * });
 * console.log(tx.id, serialize(tx)); // POST the text to /api/v1/transactions/
 * ```
 */
export function createAndSignTx(
  privateKey: string,
  ownerBefore: string | readonly string[],
  ownerAfter: string | readonly string[] | null,
  txInput: TransactionInput | readonly TransactionInput[] | null,
  operation: Operation = 'TRANSFER',
  options: CreateTransactionOptions & { lookupInputCondition?: InputConditionLookup } = {},
): Transaction {
  const tx = createTransaction(ownerBefore, ownerAfter, txInput, operation, options);
  return signTransaction(tx, privateKey, options.lookupInputCondition);
}

/**
 * Put a custom condition (a fulfillment structure, or a bare condition) at index `cid` — replacing the one
 * there or appending — and recompute the id, as the seed's threshold, hashlock, timeout and escrow flows do by
 * hand. Fulfillments are cleared: signatures made for the old id would be void anyway.
 */
export function withCondition(
  tx: Transaction,
  cid: number,
  condition: Fulfillment | Condition,
  ownersAfter: string[] | null = tx.transaction.conditions[cid]?.owners_after ?? null,
): Transaction {
  if (!Number.isInteger(cid) || cid < 0 || cid > tx.transaction.conditions.length) {
    throw new TransactionBuildError(`condition index ${cid} is out of range`, { cid });
  }
  const conditions = [...tx.transaction.conditions];
  conditions[cid] = { owners_after: ownersAfter, condition: conditionBody(condition), cid };
  const fulfillments = tx.transaction.fulfillments.map((f) => ({ ...f, fulfillment: null }));
  const transaction: TransactionBody = { ...tx.transaction, conditions, fulfillments };
  return { id: getHashData(transaction), transaction };
}

/** Set fulfillment `fid` to a hand-built fulfillment (hashlock secret, timeout, manual threshold). */
export function withFulfillment(
  tx: Transaction,
  fid: number,
  fulfillment: Fulfillment | string,
): Transaction {
  if (!tx.transaction.fulfillments[fid]) {
    throw new TransactionBuildError(`fulfillment index ${fid} is out of range`, { fid });
  }
  const uri = typeof fulfillment === 'string' ? fulfillment : fulfillment.serializeUri();
  const fulfillments = tx.transaction.fulfillments.map((f, i) =>
    i === fid ? { ...f, fulfillment: uri } : f,
  );
  return { id: tx.id, transaction: { ...tx.transaction, fulfillments } };
}
