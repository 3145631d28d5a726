import { generateKeyPair, isBase58Key, publicKeyFromPrivate } from '../protocol/crypto.ts';
import type { JsonObject } from '../protocol/json.ts';
import {
  createTransaction,
  lookupInTransactions,
  signTransaction,
  type Transaction,
  type TransactionInput,
} from '../protocol/transaction.ts';
import {
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
import { DriverError, KeypairError } from './errors.ts';
import type { Connection } from './http.ts';

export interface ClientOptions {
  /** base58 Ed25519 public key */
  publicKey: string;
  /** base58 Ed25519 private key (seed); it never leaves the client */
  privateKey: string;
  /** the node's HTTP API, e.g. `http://localhost:9984/api/v1` */
  apiEndpoint: string;
}

/**
 * The seed's `bigchaindb.client.Client`: a keypair and a node's HTTP API. Unlike 0.6 it needs no database
 * and no node configuration: everything goes over HTTP (`transfer` fetches the input transactions).
 *
 * @example
 * ```ts
 * import { Client, generateKeyPair } from 'bigchaindb/driver';
 *
 * const alice = new Client({ ...generateKeyPair(), apiEndpoint: 'http://localhost:9984/api/v1' });
 * const asset = await alice.create({ msg: 'Hello BigchainDB!' });
 * await alice.waitFor(asset.id, 'valid');
 * const bob = generateKeyPair();
 * const transfer = await alice.transfer(bob.publicKey, { txid: asset.id, cid: 0 });
 * console.log(await alice.waitFor(transfer.id, 'valid'));
 * ```
 */
export class Client implements Connection {
  readonly publicKey: string;
  readonly privateKey: string;
  readonly apiEndpoint: string;

  constructor(options: ClientOptions) {
    const { publicKey, privateKey, apiEndpoint } = options;
    if (!publicKey || !privateKey)
      throw new KeypairError('a Client needs both a publicKey and a privateKey', undefined, {});
    if (!isBase58Key(publicKey) || !isBase58Key(privateKey))
      throw new KeypairError('the keys must be base58 encodings of 32 bytes', undefined, { publicKey });
    if (publicKeyFromPrivate(privateKey) !== publicKey)
      throw new KeypairError('publicKey is not the public key of privateKey', undefined, { publicKey });
    if (typeof apiEndpoint !== 'string' || !/^https?:\/\//.test(apiEndpoint))
      throw new DriverError('apiEndpoint must be an http(s) URL', undefined, { apiEndpoint });
    this.publicKey = publicKey;
    this.privateKey = privateKey;
    this.apiEndpoint = apiEndpoint.replace(/\/+$/, '');
  }

  /**
   * A CREATE from this client's key to itself with `payload`, signed by the client. The node checks the
   * signature and answers its own CREATE to the same key (another id): that is the asset to spend.
   */
  async create(payload: JsonObject | null = null): Promise<SubmittedTransaction> {
    const tx = createTransaction(this.publicKey, this.publicKey, null, 'CREATE', { payload });
    return postTransaction(this, signTransaction(tx, this.privateKey));
  }

  /**
   * A TRANSFER of `txInput` (one output, or several, all owned by this client) to `ownerAfter` (one key, or
   * several for an n-of-n threshold). The inputs' transactions are fetched from the node to find the
   * conditions they spend: `TransactionNotFound` if one is in no valid or undecided block yet.
   */
  async transfer(
    ownerAfter: string | readonly string[],
    txInput: TransactionInput | readonly TransactionInput[],
    payload: JsonObject | null = null,
  ): Promise<SubmittedTransaction> {
    const inputs: readonly TransactionInput[] = Array.isArray(txInput)
      ? (txInput as readonly TransactionInput[])
      : [txInput as TransactionInput];
    const ids = [...new Set(inputs.map((input) => input.txid))];
    const spent = await Promise.all(ids.map((id) => getTransaction(this, id)));
    const tx = createTransaction(this.publicKey, ownerAfter, inputs, 'TRANSFER', { payload });
    return postTransaction(this, signTransaction(tx, this.privateKey, lookupInTransactions(spent)));
  }

  /** Sends a transaction built by hand (custom conditions, several signers): see `postTransaction`. */
  push(transaction: Transaction): Promise<SubmittedTransaction> {
    return postTransaction(this, transaction);
  }

  getTransaction(id: string): Promise<Transaction> {
    return getTransaction(this, id);
  }

  getStatus(id: string): Promise<TransactionStatus> {
    return getStatus(this, id);
  }

  waitFor(id: string, status: TransactionStatus, options: WaitForOptions = {}): Promise<TransactionStatus> {
    return waitFor(this, id, status, options);
  }

  getNodeInfo(): Promise<NodeInfo> {
    return getNodeInfo(this);
  }
}

/** The seed's `temp_client()`: a client with a fresh keypair. */
export function tempClient(options: { apiEndpoint: string }): Client {
  return new Client({ ...generateKeyPair(), apiEndpoint: options.apiEndpoint });
}
