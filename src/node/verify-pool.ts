import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { BigchainDBError, messageOf } from '../protocol/errors.ts';
import { checkFulfillments, type FulfillmentsJob } from '../protocol/validation.ts';
import * as validationErrors from '../protocol/validation-errors.ts';
import { ValidationError } from '../protocol/validation-errors.ts';
import { moduleBeside, startWorker } from './entry-points.ts';

/** One transaction's signature check: its input conditions are resolved beforehand (they need the database). */
export type VerifyJob = FulfillmentsJob;

export interface WorkerFailure {
  name: string;
  message: string;
  details: Record<string, unknown>;
}

export interface WorkerRequest {
  id: number;
  jobs: VerifyJob[];
}

export type WorkerReply =
  /** sent once, when the worker has loaded its code */
  { ready: true } | { id: number; results: (WorkerFailure | null)[] };

/** A worker died or could not start; its jobs were not checked. */
export class VerifyPoolError extends BigchainDBError {}

const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 10_000;

const WORKER_ENTRY = moduleBeside(import.meta.url, 'verify-worker').href;

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

/** What a check threw, as a worker sends it back. */
export function workerFailure(error: unknown): WorkerFailure {
  if (error instanceof BigchainDBError)
    return { name: error.name, message: error.message, details: error.details };
  return { name: 'Error', message: messageOf(error), details: {} };
}

/** One job's check: null when every fulfillment is valid. */
export function checkJob(job: VerifyJob): WorkerFailure | null {
  try {
    checkFulfillments(job.tx, job.inputConditions, job.now);
    return null;
  } catch (error) {
    return workerFailure(error);
  }
}

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
  /** resolves when the worker has loaded its code; rejects if it dies before */
  readonly ready: Promise<void>;
  started = false;

  constructor(entry: string, onExit: (self: PoolWorker, error: Error) => void) {
    this.worker = startWorker(entry);
    // An idle pool must not keep the process alive; a busy one must, until its answers are in.
    this.worker.unref();
    let started: () => void = () => {};
    let failed: (error: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    this.ready.catch(() => {}); // observed by whoever awaits it; a dead worker is reported through onExit too
    this.worker.on('message', (reply: WorkerReply) => {
      if ('ready' in reply) {
        this.started = true;
        started();
        return;
      }
      const pending = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      pending?.resolve(reply.results);
    });
    const exit = (error: Error) => {
      failed(error);
      onExit(this, error);
    };
    this.worker.on('error', exit);
    this.worker.on('exit', (code) => exit(new Error(`verify worker exited with code ${code}`)));
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
 * the order of the jobs. A worker that dies fails its chunk (VerifyPoolError) and is replaced. With size 0
 * the checks run on the calling thread: for a process that is itself one of one per core (an HTTP API
 * worker), where a thread hop adds a copy of every job and answer and no parallelism.
 */
export class VerifyPool {
  /** a slot is empty while its dead worker waits to be replaced */
  private readonly workers: (PoolWorker | undefined)[] = [];
  private nextId = 0;
  private closed = false;
  /** workers in a row that died before they loaded: each waits twice as long to be replaced */
  private startFailures = 0;
  private lastFailure: Error | undefined;
  /** the worker module, as a URL */
  private readonly workerEntry: string;
  /** transactions checked so far (the benchmark's verify rate, and how tests see nothing was checked twice) */
  checked = 0;

  /** jobs handed to the workers and not answered yet */
  private pending = 0;
  private readonly onChecked: ((jobs: number) => void) | undefined;

  constructor(
    readonly size: number = availableParallelism(),
    options: {
      workerEntry?: string;
      /** told how many jobs each verify() checks (the node's metrics) */
      onChecked?: (jobs: number) => void;
    } = {},
  ) {
    if (!Number.isInteger(size) || size < 0)
      throw new RangeError(
        `a verify pool has a whole number of workers (0: none, checks inline), not ${size}`,
      );
    this.workerEntry = options.workerEntry ?? WORKER_ENTRY;
    this.onChecked = options.onChecked;
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  /**
   * Resolves once every worker has loaded its code; rejects with the reason when one cannot (a node checks
   * this before it runs, rather than failing every block later).
   */
  async ready(): Promise<void> {
    if (this.size === 0) return;
    try {
      await Promise.all(this.workers.filter((pooled) => pooled !== undefined).map((pooled) => pooled.ready));
    } catch (error) {
      throw new VerifyPoolError(`the signature-check workers cannot start: ${messageOf(error)}`);
    }
  }

  /** null for each job whose fulfillments are all valid, else the ValidationError it failed with. */
  async verify(jobs: readonly VerifyJob[]): Promise<(ValidationError | null)[]> {
    if (this.closed) throw new VerifyPoolError('the verify pool is closed');
    if (jobs.length === 0) return [];
    if (this.size === 0) {
      this.checked += jobs.length;
      this.onChecked?.(jobs.length);
      return jobs.map((job) => {
        const failure = checkJob(job);
        return failure === null ? null : revive(failure);
      });
    }
    const live = this.workers.filter((pooled): pooled is PoolWorker => pooled !== undefined);
    if (live.length === 0)
      throw new VerifyPoolError(
        `no signature-check worker is running: ${this.lastFailure?.message ?? 'unknown'}`,
      );
    this.checked += jobs.length;
    this.onChecked?.(jobs.length);
    const chunkSize = Math.ceil(jobs.length / live.length);
    const chunks = live
      .map((worker, i) => ({ worker, jobs: jobs.slice(i * chunkSize, (i + 1) * chunkSize) }))
      .filter((chunk) => chunk.jobs.length > 0);
    this.pending += jobs.length;
    const results = await Promise.all(
      chunks.map((chunk) => chunk.worker.send({ id: this.nextId++, jobs: chunk.jobs })),
    ).finally(() => (this.pending -= jobs.length));
    return results.flat().map((failure) => (failure === null ? null : revive(failure)));
  }

  /** Jobs handed to the workers and not answered yet. */
  get pendingJobs(): number {
    return this.pending;
  }

  /** Why the pool cannot check signatures now (a worker missing, or not loaded), else undefined. */
  unavailable(): string | undefined {
    if (this.closed) return 'the verify pool is closed';
    const loaded = this.workers.filter((pooled) => pooled?.started === true).length;
    if (loaded < this.size)
      return (
        `${this.size - loaded} of ${this.size} signature-check worker threads not running` +
        (this.lastFailure === undefined ? '' : ` (last failure: ${this.lastFailure.message})`)
      );
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(
      workers.filter((pooled) => pooled !== undefined).map((pooled) => pooled.worker.terminate()),
    );
  }

  private spawn(): PoolWorker {
    return new PoolWorker(this.workerEntry, (dead, error) => {
      const index = this.workers.indexOf(dead);
      if (index === -1) return;
      this.lastFailure = error;
      dead.failAll(new VerifyPoolError(`a signature-check worker failed: ${error.message}`));
      if (this.closed) return;
      // A worker that crashed is replaced at once; one that could not even load would fail the same way
      // again, so its replacement waits, longer each time (no thread spawned in a tight loop).
      this.startFailures = dead.started ? 0 : this.startFailures + 1;
      const wait =
        this.startFailures === 0
          ? 0
          : Math.min(RESPAWN_MAX_MS, RESPAWN_MIN_MS * 2 ** (this.startFailures - 1));
      if (wait === 0) {
        this.workers[index] = this.spawn();
        return;
      }
      this.workers[index] = undefined;
      setTimeout(() => {
        if (!this.closed) this.workers[index] = this.spawn();
      }, wait).unref();
    });
  }
}
