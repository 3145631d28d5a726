import { BaseConsensusRules } from '../protocol/consensus.ts';
import type { Transaction } from '../protocol/transaction.ts';
import {
  checkNotReplayed,
  checkTransactionHash,
  checkTransactionShape,
  computeTransactionId,
  resolveInputConditions,
} from '../protocol/validation.ts';
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
 * Which of a batch of backlog transactions can go into one block. The default rules run in three passes:
 * the cheap checks against the chain on this thread (one ChainView: two queries for the whole batch), the
 * signatures on the worker pool, then, in order, conflicts with the transactions already accepted (a second
 * spend of an output or the same transaction twice) — so a transaction that fails its signatures never
 * blocks a later valid one. A consensus plugin with its own validateTransaction is run one by one instead.
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
  const rejected: (Rejection & { index: number })[] = [];
  const reject = (index: number, error: unknown) => {
    if (!(error instanceof ValidationError)) throw error;
    rejected.push({ transaction: candidates[index], reason: error, index });
  };
  const inCandidateOrder = () => rejected.sort((a, b) => a.index - b.index).map(({ index: _, ...r }) => r);
  const accepted: Transaction[] = [];
  if (bigchain.consensus.validateTransaction !== BaseConsensusRules.prototype.validateTransaction) {
    for (const [index, candidate] of candidates.entries()) {
      try {
        const tx = await bigchain.consensus.validateTransaction(view, candidate);
        view.include(tx);
        accepted.push(tx);
      } catch (error) {
        reject(index, error);
      }
    }
    return { accepted, rejected: inCandidateOrder() };
  }

  const jobs: VerifyJob[] = [];
  const jobIndex: number[] = [];
  for (const [index, candidate] of candidates.entries()) {
    try {
      const tx = checkTransactionShape(candidate);
      const computedId = computeTransactionId(tx);
      const inputConditions = await resolveInputConditions(tx, view);
      checkTransactionHash(tx, computedId);
      await checkNotReplayed(tx, view);
      jobs.push({ tx, inputConditions, now: view.now() });
      jobIndex.push(index);
    } catch (error) {
      reject(index, error);
    }
  }
  const failures = await verifyUnlessKnown(pool, jobs, options.verified);
  for (const [i, job] of jobs.entries()) {
    const index = jobIndex[i] as number;
    const failure = failures[i];
    if (failure) {
      reject(index, failure);
      continue;
    }
    try {
      // Against the block under construction now: the chain itself was checked above.
      await resolveInputConditions(job.tx, view);
      await checkNotReplayed(job.tx, view);
      view.include(job.tx);
      accepted.push(job.tx);
    } catch (error) {
      reject(index, error);
    }
  }
  return { accepted, rejected: inCandidateOrder() };
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
