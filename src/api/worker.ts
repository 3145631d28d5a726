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

/** This process's own metrics; a scrape sums them with the node's others in the `start` process. */
const metrics = new NodeMetrics({ processMetrics: true });
let nextScrape = 0;
const scrapes = new Map<number, (text: string) => void>();

/** The node's metrics, summed by the `start` process over all its processes. */
function nodeMetrics(): Promise<string> {
  return new Promise((resolve) => {
    const id = nextScrape++;
    scrapes.set(id, resolve);
    send({ type: 'metrics', id });
  });
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'snapshot')
    void metrics.snapshot().then((snapshot) => send({ type: 'snapshot', id: message.id, metrics: snapshot }));
  else if (message.type === 'metrics') {
    scrapes.get(message.id)?.(message.text);
    scrapes.delete(message.id);
  }
});

process.once('message', (message: ToWorker) => {
  if (message.type !== 'configure') return;
  const { config, version, tagKey } = message;
  void (async () => {
    const bigchain = await Bigchain.open(config);
    // Signatures checked on this process's own thread: it is already one of one per core.
    const pool = new VerifyPool(0);
    await pool.ready();
    const api = createApiServer({
      bigchain,
      // Tagged with the `start` process's key, the backlog rows tell its block pipeline what was checked here.
      admission: new Admission(
        bigchain,
        pool,
        new VerifiedSignatures({ tagKey, capacity: REMEMBERED_SIGNATURES }),
        {
          maxClockSkew: config.max_clock_skew,
        },
      ),
      info: { version, apiEndpoint: config.api_endpoint },
      metrics: nodeMetrics,
      log: streamLogger(process.stderr, { level: config.log.level }).child(
        `http:${cluster.worker?.id ?? process.pid}`,
      ),
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
