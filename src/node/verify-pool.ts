import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BigchainDBError } from '../protocol/errors.ts';
import type { ConditionBody, Transaction } from '../protocol/transaction.ts';
import * as validationErrors from '../protocol/validation-errors.ts';
import { ValidationError } from '../protocol/validation-errors.ts';

/** One transaction's signature check: its input conditions are resolved beforehand (they need the database). */
export interface VerifyJob {
  tx: Transaction;
  inputConditions: ConditionBody[];
  /** integer-second time for timeout conditions */
  now: string;
}

export interface WorkerFailure {
  name: string;
  message: string;
  details: Record<string, unknown>;
}

export interface WorkerRequest {
  id: number;
  jobs: VerifyJob[];
}

export interface WorkerReply {
  id: number;
  results: (WorkerFailure | null)[];
}

/** A worker died or could not start; its jobs were not checked. */
export class VerifyPoolError extends BigchainDBError {}

// The package runs TypeScript through tsx, which a worker does not inherit when the main thread registered
// it through its API (bin/bigchaindb.js): this bootstrap registers it, then loads the worker module. tsx is
// passed as a resolved URL: a bare specifier in eval'd code resolves from the working directory, which is
// anywhere a node is started from.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((tsx) => { tsx.register(); return import(workerData.entry); });
`;
const WORKER_DATA = {
  tsx: import.meta.resolve('tsx/esm/api'),
  entry: new URL('./verify-worker.ts', import.meta.url).href,
};

const ERROR_CLASSES = new Map<
  string,
  new (message: string, details?: Record<string, unknown>) => ValidationError
>(
  Object.values(validationErrors)
    .filter(
      (value): value is typeof ValidationError =>
        typeof value === 'function' && value.prototype instanceof Error,
    )
    .map((errorClass) => [errorClass.name, errorClass]),
);

/** The same class as thrown in the worker (InvalidSignature, SchemaError, …), else a plain ValidationError. */
function revive(failure: WorkerFailure): ValidationError {
  const ErrorClass = ERROR_CLASSES.get(failure.name) ?? ValidationError;
  return new ErrorClass(failure.message, failure.details);
}

interface Pending {
  resolve(results: (WorkerFailure | null)[]): void;
  reject(error: Error): void;
}

class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();

  constructor(onExit: (self: PoolWorker, error: Error) => void) {
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: WORKER_DATA });
    // An idle pool must not keep the process alive; a busy one must, until its answers are in.
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const pending = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      pending?.resolve(reply.results);
    });
    this.worker.on('error', (error) => onExit(this, error));
    this.worker.on('exit', (code) => onExit(this, new Error(`verify worker exited with code ${code}`)));
  }

  send(request: WorkerRequest): Promise<(WorkerFailure | null)[]> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(request.id, { resolve, reject });
      this.worker.postMessage(request);
    });
  }

  failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * Signature checks on worker threads, one per core by default, so that validating thousands of
 * transactions keeps the event loop free. A batch is split into one chunk per worker; results come back in
 * the order of the jobs. A worker that dies fails its chunk (VerifyPoolError) and is replaced.
 */
export class VerifyPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;
  private closed = false;
  /** transactions checked so far (the benchmark's verify rate, and how tests see nothing was checked twice) */
  checked = 0;

  constructor(readonly size: number = availableParallelism()) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`a verify pool needs at least 1 worker, not ${size}`);
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  /** null for each job whose fulfillments are all valid, else the ValidationError it failed with. */
  async verify(jobs: readonly VerifyJob[]): Promise<(ValidationError | null)[]> {
    if (this.closed) throw new VerifyPoolError('the verify pool is closed');
    if (jobs.length === 0) return [];
    this.checked += jobs.length;
    const chunkSize = Math.ceil(jobs.length / this.workers.length);
    const chunks = this.workers
      .map((worker, i) => ({ worker, jobs: jobs.slice(i * chunkSize, (i + 1) * chunkSize) }))
      .filter((chunk) => chunk.jobs.length > 0);
    const results = await Promise.all(
      chunks.map((chunk) => chunk.worker.send({ id: this.nextId++, jobs: chunk.jobs })),
    );
    return results.flat().map((failure) => (failure === null ? null : revive(failure)));
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((pooled) => pooled.worker.terminate()));
  }

  private spawn(): PoolWorker {
    return new PoolWorker((dead, error) => {
      const index = this.workers.indexOf(dead);
      if (index === -1) return;
      dead.failAll(new VerifyPoolError(`a signature-check worker failed: ${error.message}`));
      if (this.closed) return;
      this.workers[index] = this.spawn();
    });
  }
}
