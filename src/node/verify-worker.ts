// A verify-pool worker: checks the fulfillments of each job it is sent (the CPU-heavy Ed25519 part of
// validation) and answers, per job, null or the failure as { name, message, details }.
import { parentPort } from 'node:worker_threads';
import { checkJob, type WorkerReply, type WorkerRequest } from './verify-pool.ts';

parentPort?.on('message', (request: WorkerRequest) => {
  const reply: WorkerReply = { id: request.id, results: request.jobs.map(checkJob) };
  parentPort?.postMessage(reply);
});
parentPort?.postMessage({ ready: true } satisfies WorkerReply);
