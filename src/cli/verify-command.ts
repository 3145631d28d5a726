import type { Writable } from 'node:stream';
import { auditChain, formatProblem, type AuditProgress } from '../ops/audit.ts';
import { loadConsensusPlugin } from '../node/consensus-plugin.ts';
import { VerifyPool } from '../node/verify-pool.ts';
import { openStorage } from '../storage/open.ts';
import { commandConfig, type Context } from './context.ts';
import { CliError } from './errors.ts';

/** Transactions from which the fulfillments are checked on worker threads. */
const POOL_THRESHOLD = 5_000;

/** A progress line at most this often: a short audit prints none. */
const PROGRESS_INTERVAL_MS = 5_000;

/**
 * `bigchaindb verify`: the tamper audit (src/ops/audit.ts) of the configured database, under the configured
 * consensus plugin's rules. One line per problem
 * on stdout as it is found, then a summary line; progress on stderr during long runs. Exits 1 when anything
 * was found.
 */
export async function runVerify(context: Context): Promise<void> {
  const { config } = await commandConfig(context);
  // Like restore: with a configured keypair, block creators and CREATE signers must be federation members.
  const federation = config.keypair.public === null ? undefined : [...config.keyring, config.keypair.public];
  const { stdout, stderr } = context.io;
  const stages = await loadConsensusPlugin(config.consensus_plugin);
  const progress = throttled(stderr);
  let found = 0;
  const storage = await openStorage(config.database);
  let pool: VerifyPool | undefined;
  let report;
  try {
    // Starting the workers costs more than checking a small chain on this thread.
    if ((await storage.counts()).transactions >= POOL_THRESHOLD) pool = new VerifyPool();
    report = await auditChain(storage, {
      stages,
      ...(pool === undefined ? {} : { pool }),
      // Printed as found, so the report keeps none: memory stays flat however many there are.
      maxProblems: 0,
      onProblem: (problem) => {
        found++;
        stdout.write(`${formatProblem(problem)}\n`);
      },
      onProgress: progress,
      ...(federation === undefined ? {} : { federation }),
    });
  } finally {
    await pool?.close();
    await storage.close();
  }
  const counted = `Verified ${report.blocks} blocks, ${report.votes} votes and ${report.transactions} transactions`;
  const verdict = found === 0 ? 'no problems found' : `${found} problem${found === 1 ? '' : 's'} found`;
  stdout.write(`${counted}: ${verdict}.\n`);
  if (found > 0) {
    throw new CliError(`the stored chain failed verification: ${verdict} (listed on stdout)`);
  }
}

function throttled(stderr: Writable): (done: AuditProgress) => void {
  let last = Date.now();
  return (done) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    stderr.write(`verified ${done.blocks} blocks, ${done.votes} votes, ${done.transactions} transactions…\n`);
  };
}
