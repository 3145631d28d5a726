import {
  BIGCHAINDB_TYPE_IDS,
  CryptoConditionError,
  Ed25519Fulfillment,
  Fulfillment,
  ThresholdSha256Fulfillment,
} from '../protocol/cc/index.ts';
import { timestamp } from '../protocol/crypto.ts';
import { serialize } from '../protocol/json.ts';
import {
  createInputCondition,
  ownersConditionBody,
  type FulfillmentEntry,
  type Transaction,
} from '../protocol/transaction.ts';
import { checkTransactionHash, checkTransactionShape, computeTransactionId } from '../protocol/validation.ts';
import {
  InvalidSignature,
  OperationError,
  ReplayError,
  ValidationError,
} from '../protocol/validation-errors.ts';
import type { Bigchain } from './bigchain.ts';
import { isDatabaseUnavailable } from '../storage/errors.ts';
import { selectTransactions } from './block-builder.ts';
import type { NodeMetrics } from './metrics.ts';
import type { VerifiedSignatures } from './verified-signatures.ts';
import type { VerifyJob, VerifyPool } from './verify-pool.ts';

/** What the node answers a POSTed transaction that it accepted. */
export type Admitted =
  /** the transaction as stored (a client CREATE becomes the node's own), and the node to put it in a block */
  | { transaction: Transaction; inserted: true; assignee: string }
  /** the same transaction was already waiting in the backlog, or (a client CREATE sent again) in a block */
  | { transaction: Transaction; inserted: false };

/** Most POSTs handled in one round: one chain lookup, one signature batch, one backlog insert. */
const MAX_BATCH = 500;
/** config `max_clock_skew`'s default: 10 minutes */
export const DEFAULT_MAX_CLOCK_SKEW = 600;

export interface AdmissionOptions {
  /** how many seconds a client CREATE's timestamp may be from the node's clock (config `max_clock_skew`) */
  maxClockSkew?: number;
  /** where admissions and refusals are counted */
  metrics?: NodeMetrics;
}

/** A client CREATE whose timestamp the node will not sign: too far from its own clock. */
export class ClockSkewError extends ValidationError {}

interface Submission {
  body: unknown;
  resolve(admitted: Admitted): void;
  reject(error: unknown): void;
}

/**
 * Admits POSTed transactions into the backlog in batches: every POST that arrives while a round runs waits
 * for the next one, so under load one round serves hundreds of requests with one ChainView (two queries),
 * one call to the signature workers and one INSERT, instead of three round trips and a main-thread
 * signature check each. Signatures found good are remembered in `verified` and the backlog row carries its
 * tag of them, so the node's block pipeline (in this process, or in the `start` process of this API
 * worker) does not check them again; the node's own CREATEs are never checked at all.
 *
 * A client CREATE must carry the signature of every key in its owners_before (for several, a fulfillment of
 * their n-of-n threshold: the condition the asset will carry) and a timestamp within `maxClockSkew` of the
 * node's clock; it becomes the node's CREATE to the same keys (0.6 transform_create, which skipped the check:
 * anyone could mint to any key). Every transaction is then validated against the chain and the rest of its
 * round, as for a block.
 */
export class Admission {
  private queue: Submission[] = [];
  private running = false;
  private readonly maxClockSkew: number;
  private readonly metrics: NodeMetrics | undefined;

  constructor(
    private readonly bigchain: Bigchain,
    private readonly pool: VerifyPool,
    private readonly verified?: VerifiedSignatures,
    options: AdmissionOptions = {},
  ) {
    this.maxClockSkew = options.maxClockSkew ?? DEFAULT_MAX_CLOCK_SKEW;
    this.metrics = options.metrics;
  }

  /** Resolves once the transaction is in the backlog; rejects with a ValidationError saying why not. */
  submit(body: unknown): Promise<Admitted> {
    const metrics = this.metrics;
    metrics?.transactionReceived();
    const arrived = performance.now();
    return new Promise((resolve, reject) => {
      this.queue.push({
        body,
        resolve: (admitted) => {
          metrics?.transactionAccepted(performance.now() - arrived);
          resolve(admitted);
        },
        reject: (error) => {
          // The client's fault, by class; a failure of the node's own (its database down) is no refusal.
          if (error instanceof ValidationError) metrics?.transactionRefused(error.name);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as thrown
          reject(error);
        },
      });
      if (!this.running) {
        this.running = true;
        // After the I/O callbacks of this turn, so the requests that arrived together share the round.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const round = this.queue.splice(0, MAX_BATCH);
      try {
        await this.admit(round);
      } catch (error) {
        if (round.length === 1 || isDatabaseUnavailable(error)) {
          for (const submission of round) submission.reject(error);
          continue;
        }
        // One submission the node cannot process (say, a consensus plugin that throws on it) must not fail
        // the rest of its round: each is admitted alone, and only those that fail alone fail.
        for (const submission of round)
          await this.admit([submission]).catch((alone: unknown) => submission.reject(alone));
      }
    }
    this.running = false;
  }

  private async admit(round: readonly Submission[]): Promise<void> {
    const b = this.bigchain;
    const now = timestamp();
    // 1. Shape; client CREATEs: id and the client's signature (on the workers).
    const shaped: { submission: Submission; tx: Transaction }[] = [];
    const clientCreates: { submission: Submission; job: VerifyJob }[] = [];
    const nodeCreates = new Set<string>();
    for (const submission of round) {
      try {
        const tx = checkTransactionShape(submission.body);
        if (tx.transaction.operation !== 'CREATE') shaped.push({ submission, tx });
        else clientCreates.push({ submission, job: clientCreateJob(tx, now) });
      } catch (error) {
        submission.reject(error);
      }
    }
    const verdicts = await this.pool.verify(clientCreates.map(({ job }) => job));
    const late: Promise<void>[] = [];
    for (const [i, { submission, job }] of clientCreates.entries()) {
      const failure = verdicts[i];
      if (failure) {
        submission.reject((failure instanceof InvalidSignature && unsignedOwners(job.tx)) || failure);
        continue;
      }
      const [fulfillment] = job.tx.transaction.fulfillments;
      const created = b.createTransaction(b.me, fulfillment!.owners_before, null, 'CREATE', {
        payload: job.tx.transaction.data.payload,
        // From the client's transaction, not fresh: the same request sent again (a client retrying after a
        // lost answer) makes the same transaction, which is stored once instead of minting a second asset.
        uuid: uuidFrom(job.tx.id),
        timestamp: job.tx.transaction.timestamp,
      });
      const sent = created.transaction.timestamp;
      const skew = Math.abs(Number(sent) - Number(now));
      if (skew > this.maxClockSkew) {
        const refusal = new ClockSkewError(
          `the transaction's timestamp ${sent} is ${skew} s from the node's clock (${now}); ` +
            `at most max_clock_skew = ${this.maxClockSkew} s`,
          { timestamp: sent, now },
        );
        late.push(this.admitLate(submission, created, refusal));
        continue;
      }
      const signed = await b.signAsNode(created);
      // Built and signed here a moment ago: nothing about it alone to check.
      this.verified?.add({
        tx: signed,
        inputConditions: [createInputCondition(signed.transaction.fulfillments[0]!)!],
        now,
      });
      this.verified?.markCheckedAlone(signed);
      shaped.push({ submission, tx: signed });
      nodeCreates.add(signed.id);
    }
    await Promise.all(late);

    // 2. Against the chain and each other; the same transaction twice in a round is one candidate.
    const byId = new Map<string, Submission[]>();
    const candidates: Transaction[] = [];
    for (const { submission, tx } of shaped) {
      const same = byId.get(tx.id);
      if (same) same.push(submission);
      else {
        byId.set(tx.id, [submission]);
        candidates.push(tx);
      }
    }
    const selection = await selectTransactions(b, this.pool, candidates, {
      ...(this.verified === undefined ? {} : { verified: this.verified }),
    });
    for (const { transaction, reason } of selection.rejected) {
      const tx = transaction as Transaction;
      const alreadyDone = reason instanceof ReplayError && nodeCreates.has(tx.id);
      for (const submission of byId.get(tx.id) ?? []) {
        if (alreadyDone) submission.resolve({ transaction: tx, inserted: false });
        else submission.reject(reason);
      }
    }

    // 3. One INSERT for the round.
    const entries = selection.accepted.map((transaction) => {
      const text = serialize(transaction);
      const verifiedTag = this.verified?.tag(transaction, text);
      return {
        transaction,
        text,
        assignee: b.pickAssignee(),
        ...(verifiedTag === undefined ? {} : { verifiedTag }),
      };
    });
    const writing = performance.now();
    const written = await b.storage.writeBacklog(entries);
    if (entries.length > 0)
      this.metrics?.backlogWrite(written.inserted.length, (performance.now() - writing) / 1000);
    const inserted = new Set(written.inserted);
    for (const { transaction, assignee } of entries) {
      const [first, ...copies] = byId.get(transaction.id) ?? [];
      first?.resolve(
        inserted.has(transaction.id)
          ? { transaction, inserted: true, assignee }
          : { transaction, inserted: false },
      );
      for (const copy of copies) copy.resolve({ transaction, inserted: false });
    }
  }

  /**
   * A client CREATE outside the clock window is refused, unless it is a retry of one the node already
   * stored: then the answer is the stored transaction, as for any retry (the window has passed since).
   */
  private async admitLate(submission: Submission, created: Transaction, refusal: ClockSkewError) {
    try {
      const stored = await this.bigchain.getTransactionWithStatus(created.id);
      if (stored.transaction !== null && stored.status !== 'invalid')
        submission.resolve({ transaction: stored.transaction, inserted: false });
      else submission.reject(refusal);
    } catch (error) {
      submission.reject(error);
    }
  }
}

/** A UUID (version-5 layout) made from a transaction id, itself a SHA3-256 hash. */
function uuidFrom(id: string): string {
  const hex = id.slice(0, 32).split('');
  hex[12] = '5';
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

/**
 * The check of a client's CREATE: one fulfillment over the transaction as sent, of the condition the node's
 * CREATE will give its owners_before: Ed25519 of the one key, or the n-of-n threshold of several, so every
 * future owner of the asset has signed for it.
 */
function clientCreateJob(clientTx: Transaction, now: string): VerifyJob {
  const [fulfillment, ...extra] = clientTx.transaction.fulfillments;
  if (fulfillment === undefined || extra.length > 0)
    throw new OperationError('a CREATE has exactly one fulfillment, signed by the client creating it');
  checkTransactionHash(clientTx, computeTransactionId(clientTx));
  const owners = fulfillment.owners_before;
  const twice = owners.find((owner, i) => owners.indexOf(owner) !== i);
  // A threshold counts a key once: an asset for the same key twice could never be spent.
  if (twice !== undefined) throw new OperationError(`the CREATE lists owner ${twice} twice in owners_before`);
  const condition = ownersConditionBody(owners);
  if (condition === undefined)
    throw new OperationError('the CREATE fulfillment names no owner (owners_before is empty)');
  return { tx: clientTx, inputConditions: [condition], now };
}

/**
 * Why a client CREATE that failed its signature check failed, when owners did not sign it (say, one of
 * several signed alone): naming them. Undefined when each owner's signature is there (then one is wrong).
 */
function unsignedOwners(clientTx: Transaction): InvalidSignature | undefined {
  const [{ owners_before: owners, fulfillment }] = clientTx.transaction.fulfillments as [FulfillmentEntry];
  if (fulfillment === null) return undefined;
  let signed: Set<string>;
  try {
    signed = new Set(signedKeys(Fulfillment.fromUri(fulfillment, { allowedTypeIds: BIGCHAINDB_TYPE_IDS })));
  } catch (error) {
    if (error instanceof CryptoConditionError) return undefined;
    throw error;
  }
  const missing = owners.flatMap((owner, i) => (signed.has(owner) ? [] : [`${owner} (owners_before.${i})`]));
  if (missing.length === 0) return undefined;
  return new InvalidSignature(
    `the CREATE is not signed by ${missing.join(', ')}: a client CREATE is signed by every key in ` +
      'owners_before (for several, a fulfillment of their n-of-n threshold condition)',
    { fid: 0, missing: owners.filter((owner) => !signed.has(owner)) },
  );
}

/** The keys of the Ed25519 signatures in a fulfillment, through nested thresholds (not checked here). */
function signedKeys(fulfillment: Fulfillment): string[] {
  if (fulfillment instanceof Ed25519Fulfillment) return [fulfillment.publicKeyBase58];
  if (!(fulfillment instanceof ThresholdSha256Fulfillment)) return [];
  return fulfillment.subconditions.flatMap(({ body }) =>
    body instanceof Fulfillment ? signedKeys(body) : [],
  );
}
