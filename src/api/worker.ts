/**
 * The body of an HTTP API worker process (`server.workers`): it gets the node's configuration and signature
 * tag key from the `start` process over IPC, serves the API on the shared `server.bind` socket
 * (node:cluster hands it connections), and stops when told to or when the `start` process is gone.
 */
import cluster from 'node:cluster';
import { Bigchain } from '../node/bigchain.ts';
import { VerifiedSignatures } from '../node/verified-signatures.ts';
import { VerifyPool } from '../node/verify-pool.ts';
import { Admission } from '../node/admission.ts';
import { describeError, streamLogger } from '../node/log.ts';
import { NodeMetrics } from '../node/metrics.ts';
import type { Readiness } from '../node/node.ts';
import { createApiServer, listen } from './server.ts';
import type { FromWorker, ToWorker } from './workers.ts';

/** Signatures a worker remembers: a tag is made when its round is inserted, so a few rounds' worth is plenty. */
const REMEMBERED_SIGNATURES = 20_000;

function send(message: FromWorker): void {
  process.send?.(message);
}

// Ctrl-C reaches the whole process group: the `start` process decides when workers stop.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

/** How long `/readyz` waits for the node process's answer before it says the node is not ready. */
const READINESS_WAIT_MS = 3_000;

/** This process's own metrics (made once configured); a scrape sums them with the node's others. */
let metrics: NodeMetrics | undefined;
let nextRequest = 0;
const scrapes = new Map<number, (text: string) => void>();
const readinessAwaited = new Map<number, (readiness: Readiness) => void>();

/** The node's metrics, summed by the `start` process over all its processes. */
function nodeMetrics(): Promise<string> {
  return new Promise((resolve) => {
    const id = nextRequest++;
    scrapes.set(id, resolve);
    send({ type: 'metrics', id });
  });
}

/** The node's readiness, as the `start` process (which runs the pipelines) sees it. */
function nodeReadiness(): Promise<Readiness> {
  return new Promise((resolve) => {
    const id = nextRequest++;
    const timer = setTimeout(() => {
      readinessAwaited.delete(id);
      const reason = `the node process did not answer within ${READINESS_WAIT_MS} ms`;
      resolve({ ready: false, checks: [{ name: 'pipelines', ok: false, reason }] });
    }, READINESS_WAIT_MS);
    readinessAwaited.set(id, (readiness) => {
      clearTimeout(timer);
      readinessAwaited.delete(id);
      resolve(readiness);
    });
    send({ type: 'readiness', id });
  });
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'snapshot')
    void (metrics?.snapshot() ?? Promise.resolve([])).then((snapshot) =>
      send({ type: 'snapshot', id: message.id, metrics: snapshot }),
    );
  else if (message.type === 'metrics') {
    scrapes.get(message.id)?.(message.text);
    scrapes.delete(message.id);
  } else if (message.type === 'readiness') readinessAwaited.get(message.id)?.(message.readiness);
});

process.once('message', (message: ToWorker) => {
  if (message.type !== 'configure') return;
  const { config, version, tagKey } = message;
  void (async () => {
    const log = streamLogger(process.stderr, { level: config.log.level });
    const own = new NodeMetrics({ processMetrics: true, statsd: config.statsd, log: log.child('statsd') });
    metrics = own;
    const bigchain = await Bigchain.open(config);
    // Signatures checked on this process's own thread: it is already one of one per core.
    const pool = new VerifyPool(0, { onChecked: (jobs) => own.signaturesChecked(jobs) });
    await pool.ready();
    const api = createApiServer({
      bigchain,
      // Tagged with the `start` process's key, the backlog rows tell its block pipeline what was checked here.
      admission: new Admission(
        bigchain,
        pool,
        new VerifiedSignatures({ tagKey, capacity: REMEMBERED_SIGNATURES }),
        { maxClockSkew: config.max_clock_skew, metrics: own },
      ),
      info: { version, apiEndpoint: config.api_endpoint },
      metrics: nodeMetrics,
      requestMetrics: own,
      readiness: nodeReadiness,
      log: log.child(`http:${cluster.worker?.id ?? process.pid}`),
    });
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await new Promise((resolve) => {
        api.close(resolve);
        api.closeAllConnections();
      });
      await pool.close();
      await bigchain.close();
      await own.close();
      process.exit(0);
    };
    process.on('message', (next: ToWorker) => void (next.type === 'stop' && stop()));
    process.on('disconnect', () => void stop());
    send({ type: 'listening', url: await listen(api, config.server.bind) });
  })().catch((error: unknown) => {
    send({ type: 'failed', reason: describeError(error) });
    process.exit(1);
  });
});
send({ type: 'ready' });
