// A verify-pool worker: checks the fulfillments of each job it is sent (the CPU-heavy Ed25519 part of
// validation) and answers, per job, null or the failure as { name, message, details }.
import { parentPort } from 'node:worker_threads';
import { BigchainDBError, messageOf } from '../protocol/errors.ts';
import { checkFulfillments } from '../protocol/validation.ts';
import type { VerifyJob, WorkerFailure, WorkerReply, WorkerRequest } from './verify-pool.ts';

function failure(error: unknown): WorkerFailure {
  if (error instanceof BigchainDBError)
    return { name: error.name, message: error.message, details: error.details };
  return { name: 'Error', message: messageOf(error), details: {} };
}

function check(job: VerifyJob): WorkerFailure | null {
  try {
    checkFulfillments(job.tx, job.inputConditions, job.now);
    return null;
  } catch (error) {
    return failure(error);
  }
}

parentPort?.on('message', (request: WorkerRequest) => {
  const reply: WorkerReply = { id: request.id, results: request.jobs.map(check) };
  parentPort?.postMessage(reply);
});
parentPort?.postMessage({ ready: true } satisfies WorkerReply);
