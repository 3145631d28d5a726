import { hashData, signToBase58, timestamp, verifyBase58, type KeyPair } from './crypto.ts';
import { SerializationError } from './errors.ts';
import { serialize } from './json.ts';
import { createAndSignTx, type Transaction } from './transaction.ts';
import { InvalidHash, InvalidSignature, OperationError, SchemaError } from './validation-errors.ts';

export interface BlockBody {
  /** integer Unix seconds as a string, like every 0.6 timestamp */
  timestamp: string;
  transactions: Transaction[];
  /** the creating node, whose key signs the body */
  node_pubkey: string;
  /** the nodes whose votes decide the block */
  voters: string[];
}

export interface Block {
  /** SHA3-256 of the canonical body (PROTOCOL R3) */
  id: string;
  block: BlockBody;
  /** base58 Ed25519 signature of the canonical body by `node_pubkey` */
  signature: string;
}

/** A non-null, non-array object: the only thing a JSON document field of object type can be. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The id a block with this body must carry. */
export function blockId(body: BlockBody): string {
  return hashData(serialize(body));
}

/**
 * 0.6 `create_block`: the transactions are not validated here. The arrays are copied so that later
 * changes to the caller's lists cannot silently invalidate the hash. `transactionTexts`, when the caller
 * has them, are the transactions' canonical texts (serialize), in order: the body is then hashed and signed
 * without serializing them again.
 */
export function createBlock(
  transactions: readonly Transaction[],
  nodeKey: KeyPair,
  voters: readonly string[],
  now: string = timestamp(),
  transactionTexts?: readonly string[],
): Block {
  if (transactions.length === 0) throw new OperationError('Empty block creation is not allowed');
  // In canonical key order: serialize then takes its fast path (json.ts).
  const body: BlockBody = {
    node_pubkey: nodeKey.publicKey,
    timestamp: now,
    transactions: [...transactions],
    voters: [...voters],
  };
  const serialized =
    transactionTexts === undefined ? serialize(body) : serializeWithTransactions(body, transactionTexts);
  return { id: hashData(serialized), block: body, signature: signToBase58(serialized, nodeKey.privateKey) };
}

const EMPTY_TRANSACTIONS = '"transactions":[]';

/**
 * serialize(value) of a block or a block body whose transactions' canonical texts are known: the rest is
 * serialized with an empty transaction list, and the texts (an array's canonical text is its elements'
 * texts joined by ',') go inside it. The first `"transactions":[]` of that text is the list: inside a JSON
 * string the quote before `:` would have to be escaped, so the sequence could only be another key, and
 * neither a block nor its body has one that ends so.
 */
export function serializeWithTransactions(
  value: Block | BlockBody,
  transactionTexts: readonly string[],
): string {
  const skeleton =
    'block' in value
      ? serialize({ ...value, block: { ...value.block, transactions: [] } })
      : serialize({ ...value, transactions: [] });
  const at = skeleton.indexOf(EMPTY_TRANSACTIONS) + EMPTY_TRANSACTIONS.length - 1;
  return skeleton.slice(0, at) + transactionTexts.join(',') + skeleton.slice(at);
}

/** Whether the id is the hash of the body; false (never a throw) for a body that is not JSON. */
export function blockHashIsValid(block: Block): boolean {
  try {
    return blockId(block.block) === block.id;
  } catch {
    return false;
  }
}

/** Whether `node_pubkey` signed the body; false (never a throw) for malformed keys, signatures or bodies. */
export function blockSignatureIsValid(block: Block): boolean {
  try {
    return verifyBase58(serialize(block.block), block.signature, block.block.node_pubkey);
  } catch {
    return false;
  }
}

/** The payload 0.6 put into its genesis transaction. */
export const GENESIS_PAYLOAD = { message: 'Hello World from the BigchainDB' };

/** 0.6 `prepare_genesis_block`: one GENESIS transaction from this node to itself, in a block it signs. */
export function prepareGenesisBlock(nodeKey: KeyPair, voters: readonly string[]): Block {
  const tx = createAndSignTx(nodeKey.privateKey, nodeKey.publicKey, nodeKey.publicKey, null, 'GENESIS', {
    payload: GENESIS_PAYLOAD,
  });
  return createBlock([tx], nodeKey, voters);
}

/** Whether the block is a genesis block: its first transaction is a GENESIS. */
export function isGenesisBlock(block: Block): boolean {
  return block.block.transactions[0]?.transaction.operation === 'GENESIS';
}

/**
 * 0.6 `validate_block` minus the transactions: InvalidHash, then OperationError for a creator outside the
 * federation (keyring + this node), then InvalidSignature. A structurally malformed block is a SchemaError;
 * nothing else is thrown. Returns the block, as 0.6 did. Transactions are only checked to be objects:
 * validating them is the caller's job.
 */
export function checkBlock(block: unknown, federation: readonly string[]): Block {
  assertBlockShape(block);
  const body = block.block;
  let serialized: string;
  try {
    serialized = serialize(body);
  } catch (error) {
    if (!(error instanceof SerializationError)) throw error;
    throw new SchemaError(`block body is not canonical JSON: ${error.message}`, error.details);
  }
  const computed = hashData(serialized);
  if (computed !== block.id) {
    throw new InvalidHash(`Block ${block.id} has an invalid hash: its body hashes to ${computed}`, {
      blockId: block.id,
      computedHash: computed,
    });
  }
  if (!federation.includes(body.node_pubkey)) {
    throw new OperationError('Only federation nodes can create blocks', { nodePubkey: body.node_pubkey });
  }
  if (!verifyBase58(serialized, block.signature, body.node_pubkey)) {
    throw new InvalidSignature('Invalid block signature', { blockId: block.id });
  }
  return block;
}

/** Field paths are named from the block document, e.g. `block.block.voters`. */
function assertBlockShape(block: unknown): asserts block is Block {
  if (!isRecord(block)) malformed('block', 'an object');
  if (typeof block.id !== 'string') malformed('block.id', 'a string');
  if (typeof block.signature !== 'string') malformed('block.signature', 'a string');
  const body = block.block;
  if (!isRecord(body)) malformed('block.block', 'an object');
  if (typeof body.timestamp !== 'string') malformed('block.block.timestamp', 'a string');
  if (typeof body.node_pubkey !== 'string') malformed('block.block.node_pubkey', 'a string');
  if (!Array.isArray(body.transactions) || !body.transactions.every(isRecord)) {
    malformed('block.block.transactions', 'an array of objects');
  }
  if (!Array.isArray(body.voters) || !body.voters.every((voter) => typeof voter === 'string')) {
    malformed('block.block.voters', 'an array of strings');
  }
}

function malformed(path: string, expected: string): never {
  throw new SchemaError(`${path} must be ${expected}`, { path });
}

/** A block standing in for a stored one where only its id and voters matter (vote checks, elections). */
export function shellBlock(id: string, voters: string[]): Block {
  return { id, signature: '', block: { timestamp: '', transactions: [], node_pubkey: '', voters } };
}
