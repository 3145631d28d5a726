import type { Transaction } from '../protocol/transaction.ts';
import { TimeoutError, TransactionNotFound } from './errors.ts';
import { request, type Connection } from './http.ts';

/** What GET /transactions/{id}/status answers. */
export type TransactionStatus = 'valid' | 'invalid' | 'undecided' | 'backlog';

/** A transaction as the node stored it; `assignee` (the node that will put it in a block) on a first POST. */
export type SubmittedTransaction = Transaction & { assignee?: string };

/** GET / of the node. */
export interface NodeInfo {
  software: string;
  version: string;
  public_key: string;
  keyring: string[];
  api_endpoint: string;
}

export interface WaitForOptions {
  /** give up after this long: `TimeoutError` (default 30 000 ms) */
  timeoutMs?: number;
  /** between two status requests (default 250 ms) */
  intervalMs?: number;
}

function txPath(id: string): string {
  return `/transactions/${encodeURIComponent(id)}`;
}

/**
 * POST /transactions/: the node validates the transaction and puts it in its backlog. A CREATE must be signed
 * by its creator; the node checks that, rebuilds it as its own CREATE to the same keys and signs it, so the
 * transaction answered (and its id) is the node's. Throws `InvalidTransaction` with the node's reason.
 *
 * @example
 * ```ts
 * import { createAndSignTx, generateKeyPair, postTransaction, tempClient, waitFor } from 'bigchaindb/driver';
 *
 * const node = tempClient({ apiEndpoint: 'http://localhost:9984/api/v1' }); // any Connection will do
 * const alice = generateKeyPair();
 * const created = await postTransaction(
 *   node,
 *   createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE'),
 * );
 * console.log(await waitFor(node, created.id, 'valid', { timeoutMs: 30_000 }));
 * ```
 */
export async function postTransaction(
  connection: Connection,
  transaction: Transaction,
): Promise<SubmittedTransaction> {
  return (await request<SubmittedTransaction>(connection, 'POST', '/transactions/', transaction)).body;
}

/** GET /transactions/{id}: the transaction if it is in a valid or undecided block, else `TransactionNotFound`. */
export async function getTransaction(connection: Connection, id: string): Promise<Transaction> {
  return (await request<Transaction>(connection, 'GET', txPath(id))).body;
}

/** GET /transactions/{id}/status; `TransactionNotFound` when the node has never seen it. */
export async function getStatus(connection: Connection, id: string): Promise<TransactionStatus> {
  return (await request<{ status: TransactionStatus }>(connection, 'GET', `${txPath(id)}/status`)).body
    .status;
}

/** GET / (the node's root, beside `/api/v1`): its software, version and keys. */
export async function getNodeInfo(connection: Connection): Promise<NodeInfo> {
  const root = connection.apiEndpoint.replace(/\/+$/, '').replace(/\/api\/v\d+$/, '');
  return (await request<NodeInfo>({ ...connection, apiEndpoint: root }, 'GET', '/')).body;
}

/**
 * Polls the status of `id` until it is `status`; resolves with it, or throws `TimeoutError` (with the last
 * status seen in `details.lastStatus`). A transaction not yet known to the node counts as not there yet.
 */
export async function waitFor(
  connection: Connection,
  id: string,
  status: TransactionStatus,
  options: WaitForOptions = {},
): Promise<TransactionStatus> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let lastStatus: TransactionStatus | undefined;
  for (;;) {
    try {
      lastStatus = await getStatus(connection, id);
    } catch (error) {
      if (!(error instanceof TransactionNotFound)) throw error;
    }
    if (lastStatus === status) return status;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new TimeoutError(
        `transaction ${id} is not ${status} after ${timeoutMs} ms (last status: ${lastStatus ?? 'unknown'})`,
        undefined,
        { id, waitingFor: status, lastStatus, timeoutMs },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)));
  }
}
