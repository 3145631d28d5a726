/**
 * `server.workers` (default: one per core): the HTTP API served by that many processes of its own
 * (node:cluster shares the `server.bind` socket among them), each with its own database connections and its
 * own core for parsing, schema checks and signatures, while the `start` process runs the pipelines. Each
 * worker gets the `start` process's signature tag key with its configuration (VerifiedSignatures), so the
 * block pipeline does not check again what a worker checked.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { NodeConfig } from '../config/config.ts';
import { childExecArgv, moduleBeside } from '../node/entry-points.ts';
import type { Logger } from '../node/log.ts';
import { renderMetrics, type MetricsSnapshot } from '../node/metrics.ts';
import type { BigchainNode, Readiness } from '../node/node.ts';

export type ToWorker =
  /** `tagKey`: VerifiedSignatures.exportTagKey of the `start` process, sent over IPC only */
  | { type: 'configure'; config: NodeConfig; version: string; tagKey: string }
  | { type: 'stop' }
  // A scrape, in both directions: asked for a worker's own metrics; the node's summed, answered.
  | { type: 'snapshot'; id: number }
  | { type: 'metrics'; id: number; text: string }
  // `GET /readyz` reached a worker: the node process's answer.
  | { type: 'readiness'; id: number; readiness: Readiness };
export type FromWorker =
  | { type: 'ready' } // its message listener is in place (messages sent before would be lost)
  | { type: 'listening'; url: string }
  | { type: 'failed'; reason: string }
  | { type: 'snapshot'; id: number; metrics: MetricsSnapshot }
  | { type: 'metrics'; id: number } // a scrape reached this worker
  | { type: 'readiness'; id: number };

const WORKER_ENTRY = fileURLToPath(moduleBeside(import.meta.url, 'worker'));
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
/** how long a scrape waits for a worker's metrics before it answers without them */
const SNAPSHOT_TIMEOUT_MS = 2_000;

export interface ApiWorkers {
  /** where the API listens, e.g. http://127.0.0.1:9984 */
  readonly url: string;
  /** stops every worker: open connections are closed, the database pools ended */
  stop(): Promise<void>;
}

/**
 * Forks `count` API workers and resolves once all listen; rejects (after stopping the others) when one
 * cannot start. A worker that dies later is replaced, after a delay that doubles while replacements fail.
 */
export async function startApiWorkers(
  config: NodeConfig,
  version: string,
  count: number,
  log: Logger,
  /**
   * the `start` process's node: its metrics (summed with the workers' own in every scrape), the signatures
   * its pipelines trust (the workers tag theirs with its key), and its readiness (what `/readyz` answers)
   */
  node: Pick<BigchainNode, 'metrics' | 'verified' | 'readiness'>,
): Promise<ApiWorkers> {
  const { metrics, verified } = node;
  const tagKey = verified.exportTagKey();
  cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], execArgv: childExecArgv() });
  const workers = new Set<Worker>();
  let stopping = false;
  let restartDelay = RESTART_MIN_MS;
  let nextSnapshot = 0;
  const snapshotsAwaited = new Map<number, (metrics: MetricsSnapshot) => void>();

  /** A worker's own metrics; none from one that does not answer in time (it is dying, say). */
  const snapshotOf = (worker: Worker): Promise<MetricsSnapshot> =>
    new Promise((resolve) => {
      const id = nextSnapshot++;
      const timer = setTimeout(() => {
        snapshotsAwaited.delete(id);
        resolve([]);
      }, SNAPSHOT_TIMEOUT_MS);
      snapshotsAwaited.set(id, (snapshot) => {
        clearTimeout(timer);
        snapshotsAwaited.delete(id);
        resolve(snapshot);
      });
      if (worker.isConnected()) worker.send({ type: 'snapshot', id } satisfies ToWorker);
    });

  const scrape = async (worker: Worker, id: number) => {
    const snapshots = await Promise.all([metrics.snapshot(), ...[...workers].map(snapshotOf)]);
    const text = await renderMetrics(snapshots);
    if (worker.isConnected()) worker.send({ type: 'metrics', id, text } satisfies ToWorker);
  };

  const fork = (replacement: boolean): Promise<string> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      workers.add(worker);
      let listening = false;
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready')
          worker.send({ type: 'configure', config, version, tagKey } satisfies ToWorker);
        else if (message.type === 'listening') {
          listening = true;
          restartDelay = RESTART_MIN_MS;
          resolve(message.url);
        } else if (message.type === 'snapshot') snapshotsAwaited.get(message.id)?.(message.metrics);
        else if (message.type === 'metrics')
          scrape(worker, message.id).catch((error: unknown) =>
            log.warn(`could not gather the metrics of the HTTP API workers: ${String(error)}`),
          );
        else if (message.type === 'readiness')
          void node.readiness().then((readiness) => {
            if (worker.isConnected())
              worker.send({ type: 'readiness', id: message.id, readiness } satisfies ToWorker);
          });
        else reject(new Error(`an HTTP API worker could not start: ${message.reason}`));
      });
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        reject(new Error(`an HTTP API worker exited (${signal ?? code}) before it listened`));
        if (stopping || (!listening && !replacement)) return;
        log.error(
          `HTTP API worker ${worker.process.pid} exited (${signal ?? code}); starting another in ${restartDelay} ms`,
        );
        setTimeout(() => {
          if (stopping) return;
          fork(true).then(
            () => log.info('HTTP API worker replaced'),
            (error: unknown) => log.error(String(error instanceof Error ? error.message : error)),
          );
        }, restartDelay);
        restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
      });
    });

  const stop = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
            worker.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (worker.isConnected()) worker.send({ type: 'stop' } satisfies ToWorker);
            else worker.process.kill('SIGKILL');
          }),
      ),
    );
  };

  try {
    const [url] = await Promise.all(Array.from({ length: count }, () => fork(false)));
    return { url: url!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
