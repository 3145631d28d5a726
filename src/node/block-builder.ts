import type { Transaction } from '../protocol/transaction.ts';
import type { FulfillmentsJob, ValidationContext, VerifyFulfillments } from '../protocol/validation.ts';
import { ValidationError } from '../protocol/validation-errors.ts';
import type { Bigchain } from './bigchain.ts';
import { ChainView } from './chain-view.ts';
import type { VerifiedSignatures } from './verified-signatures.ts';
import type { VerifyJob, VerifyPool } from './verify-pool.ts';

export interface Rejection {
  /** the candidate as it came (it may not even be shaped like a transaction) */
  transaction: unknown;
  reason: ValidationError;
}

export interface SelectOptions {
  /** validating a stored block (voting): its own rows are not part of the chain */
  exceptBlock?: string;
  /** transactions of a block being written meanwhile: counted as already in the chain */
  inFlight?: readonly Transaction[];
  /** signatures this node has already checked: skipped, and successes recorded */
  verified?: VerifiedSignatures;
}

export interface Selection {
  /** valid against the chain and each other, in candidate order: ready for one block */
  accepted: Transaction[];
  /** in candidate order */
  rejected: Rejection[];
}

/**
 * Which of a batch of backlog transactions can go into one block, by the consensus plugin's stages: every
 * candidate through validateTransaction against the chain (one ChainView: two queries for the whole batch),
 * all at once, so that their fulfillments stages share one call to the worker pool; then, in candidate
 * order, checkAgainstBatch against the transactions already accepted (a second spend of an output or the
 * same transaction twice) — so a transaction that fails its signatures never blocks a later valid one.
 */
export async function selectTransactions(
  bigchain: Bigchain,
  pool: VerifyPool,
  candidates: readonly unknown[],
  options: SelectOptions = {},
): Promise<Selection> {
  const view = await ChainView.load(bigchain.storage, candidates, {
    federation: bigchain.federation,
    ...(options.exceptBlock === undefined ? {} : { exceptBlock: options.exceptBlock }),
  });
  for (const tx of options.inFlight ?? []) view.include(tx);
  const rules = bigchain.consensus;
  const batch = new SignatureBatch(pool, candidates.length, options.verified);
  const ctx = withVerifier(view, batch.verify, options.verified);
  const verdicts = await Promise.allSettled(
    candidates.map((candidate) => batch.settles(() => rules.validateTransaction(ctx, candidate))),
  );
  const accepted: Transaction[] = [];
  const rejected: Rejection[] = [];
  for (const [index, verdict] of verdicts.entries()) {
    try {
      if (verdict.status === 'rejected') throw verdict.reason;
      await rules.checkAgainstBatch(view, verdict.value);
      view.include(verdict.value);
      accepted.push(verdict.value);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      rejected.push({ transaction: candidates[index], reason: error });
    }
  }
  return { accepted, rejected };
}

/** The view, with the fulfillments stage sent to `verify` and what `verified` knows checked alone. */
function withVerifier(
  view: ChainView,
  verify: VerifyFulfillments,
  verified: VerifiedSignatures | undefined,
): ValidationContext {
  return {
    ...(verified === undefined ? {} : { isCheckedAlone: (value: unknown) => verified.isCheckedAlone(value) }),
    federation: view.federation,
    now: () => view.now(),
    getValidTransaction: (txid) => view.getValidTransaction(txid),
    getSpender: (input) => view.getSpender(input),
    isInChain: (txid) => view.isInChain(txid),
    verifyFulfillments: verify,
  };
}

interface SignatureRequest {
  jobs: readonly FulfillmentsJob[];
  resolve(failures: (ValidationError | null)[]): void;
  reject(error: unknown): void;
}

/**
 * One call to the worker pool for the signature checks of a batch validated concurrently: the requests are
 * sent together once every candidate still being validated waits on one.
 */
class SignatureBatch {
  private waiting: SignatureRequest[] = [];
  private settled = 0;

  constructor(
    private readonly pool: VerifyPool,
    private readonly size: number,
    private readonly verified: VerifiedSignatures | undefined,
  ) {}

  readonly verify: VerifyFulfillments = (jobs) =>
    new Promise((resolve, reject) => {
      this.waiting.push({ jobs, resolve, reject });
      this.sendIfAllWaiting();
    });

  /** Runs one candidate's validation, counting it out of the batch once it is done. */
  settles<T>(validate: () => Promise<T>): Promise<T> {
    return Promise.resolve()
      .then(validate)
      .finally(() => {
        this.settled++;
        this.sendIfAllWaiting();
      });
  }

  private sendIfAllWaiting(): void {
    if (this.waiting.length === 0 || this.waiting.length + this.settled < this.size) return;
    const requests = this.waiting.splice(0);
    verifyUnlessKnown(
      this.pool,
      requests.flatMap((request) => request.jobs),
      this.verified,
    ).then(
      (failures) => {
        let at = 0;
        for (const request of requests) {
          request.resolve(failures.slice(at, at + request.jobs.length));
          at += request.jobs.length;
        }
      },
      (error: unknown) => {
        for (const request of requests) request.reject(error);
      },
    );
  }
}

/** The pool's verdicts, asking it only about jobs not already known good. */
async function verifyUnlessKnown(
  pool: VerifyPool,
  jobs: readonly VerifyJob[],
  verified: VerifiedSignatures | undefined,
): Promise<(ValidationError | null)[]> {
  if (verified === undefined) return pool.verify(jobs);
  const unknown = jobs.filter((job) => !verified.has(job));
  const verdicts = new Map(unknown.map((job, i) => [job, i]));
  const failures = await pool.verify(unknown);
  return jobs.map((job) => {
    const i = verdicts.get(job);
    if (i === undefined) return null;
    const failure = failures[i] ?? null;
    if (failure === null) verified.add(job);
    return failure;
  });
}
