import { availableParallelism } from 'node:os';
import type { Writable } from 'node:stream';
import { DriverError, NetworkError, tempClient } from '../driver/index.ts';
import { commandConfig, type Context } from './context.ts';
import { CliError } from './errors.ts';

const TTY_REFRESH_MS = 250;
const PIPE_REFRESH_MS = 1_000;
/** Error messages listed in the summary, most frequent first. */
const SHOWN_ERRORS = 5;

export interface LoadOptions {
  /** concurrent senders */
  senders: number;
  /** transactions to send in all; 0: until interrupted */
  count: number;
}

/** `-m [N]` (bare: one per core) and `-c N` (0 = no limit), as 0.6's load; checked by the command table. */
export function loadOptions(context: Context): LoadOptions {
  const { multiprocess, count } = context.flags;
  return {
    senders:
      multiprocess === undefined ? 1 : multiprocess === true ? availableParallelism() : Number(multiprocess),
    count: count === undefined ? 0 : Number(count),
  };
}

/** What happened to the transactions sent so far. */
class Tally {
  accepted = 0;
  /** answered with an error status by the node */
  refused = 0;
  /** no answer: network errors */
  failed = 0;
  private readonly latencies: number[] = [];
  private readonly errors = new Map<string, number>();

  get done(): number {
    return this.accepted + this.refused + this.failed;
  }

  success(milliseconds: number): void {
    this.accepted++;
    this.latencies.push(milliseconds);
  }

  failure(error: DriverError): void {
    if (error.status === undefined) this.failed++;
    else this.refused++;
    // Ids and ports differ from one error to the next; the rest says what went wrong.
    const message = error.message.replace(/\b[0-9a-f]{64}\b/g, '<id>');
    this.errors.set(message, (this.errors.get(message) ?? 0) + 1);
  }

  latency(quantile: number): number {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] ?? 0;
  }

  frequentErrors(): Array<[string, number]> {
    return [...this.errors].sort((a, b) => b[1] - a[1]).slice(0, SHOWN_ERRORS);
  }
}

/** The progress line: rewritten in place on a terminal, one line per second into a file or pipe. */
function showProgress(stream: Writable & { isTTY?: boolean }, line: () => string): () => void {
  const tty = stream.isTTY === true;
  const timer = setInterval(
    () => stream.write(tty ? `\r${line()}\x1b[K` : `${line()}\n`),
    tty ? TTY_REFRESH_MS : PIPE_REFRESH_MS,
  );
  return () => {
    clearInterval(timer);
    if (tty) stream.write(`\r${line()}\x1b[K\n`);
  };
}

/**
 * `load`: a client with a fresh keypair sends CREATE transactions to the node's HTTP API (`api_endpoint`)
 * from `-m` concurrent senders until `-c` are sent (or Ctrl-C), showing progress as it goes and a summary
 * of rate, latency and errors at the end. 0.6 forked processes and never stopped when `-c` was below their
 * number; here the senders share one process (signing is far faster than a node accepts) and the count is
 * exact. Exits 1 when any transaction was not accepted.
 */
export async function runLoad(context: Context): Promise<void> {
  const options = loadOptions(context);
  const { config } = await commandConfig(context);
  const client = tempClient({ apiEndpoint: config.api_endpoint });
  const err = context.io.stderr;
  const limit = options.count === 0 ? Number.POSITIVE_INFINITY : options.count;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  err.write(
    `Sending ${options.count === 0 ? 'CREATE transactions until interrupted' : plural(options.count, 'CREATE transaction')}` +
      ` to ${config.api_endpoint} from ${plural(options.senders, 'concurrent sender')}\n`,
  );

  const tally = new Tally();
  const begin = performance.now();
  const seconds = () => (performance.now() - begin) / 1000;
  const rate = () => Math.round(tally.accepted / Math.max(seconds(), 1e-3));
  const line = () =>
    `${tally.done}${Number.isFinite(limit) ? `/${limit}` : ''} sent, ${tally.accepted} accepted, ` +
    `${tally.refused + tally.failed} errors, ${rate()} tx/s`;

  let started = 0;
  let stopReason: string | undefined;
  // Network failures in a row, across senders: the node is gone, so stop instead of spinning.
  let networkFailuresInARow = 0;
  const unreachableAfter = Math.max(3, options.senders);
  const interrupt = () => (stopReason ??= 'interrupted');
  process.once('SIGINT', interrupt);
  const endProgress = showProgress(err, line);

  const sender = async (): Promise<void> => {
    while (stopReason === undefined && started < limit) {
      started++;
      const sentAt = performance.now();
      try {
        await client.create({ load: started });
        tally.success(performance.now() - sentAt);
        networkFailuresInARow = 0;
      } catch (error) {
        if (!(error instanceof DriverError)) throw error;
        tally.failure(error);
        if (!(error instanceof NetworkError)) continue;
        if (++networkFailuresInARow >= unreachableAfter)
          stopReason ??= `the node at ${config.api_endpoint} is unreachable`;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.senders }, sender));
  } finally {
    endProgress();
    process.off('SIGINT', interrupt);
  }

  const out = context.io.stdout;
  const ms = (value: number) => `${Math.round(value)} ms`;
  out.write(
    `${plural(tally.done, 'transaction')} sent in ${seconds().toFixed(1)} s: ${tally.accepted} accepted ` +
      `(${rate()} tx/s), ${tally.refused} refused by the node, ${tally.failed} without an answer\n`,
  );
  if (tally.accepted > 0)
    out.write(
      `latency: p50 ${ms(tally.latency(0.5))}, p95 ${ms(tally.latency(0.95))}, max ${ms(tally.latency(1))}\n`,
    );
  for (const [message, times] of tally.frequentErrors()) out.write(`${times} × ${message}\n`);
  if (stopReason !== undefined) out.write(`stopped early: ${stopReason}\n`);
  if (tally.refused + tally.failed > 0)
    throw new CliError(
      tally.accepted === 0
        ? `no transaction was accepted by ${config.api_endpoint}`
        : `${plural(tally.refused + tally.failed, 'transaction')} not accepted`,
    );
}
