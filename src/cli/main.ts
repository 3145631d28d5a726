import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { generateDatabasePassword, writeConfigFile, type NodeConfig } from '../config/config.ts';
import { Admission } from '../node/admission.ts';
import { API_PREFIX, createApiServer, listen } from '../api/server.ts';
import { startApiWorkers } from '../api/workers.ts';
import { Bigchain } from '../node/bigchain.ts';
import { streamLogger, type Logger } from '../node/log.ts';
import { NodeMetrics, renderMetrics } from '../node/metrics.ts';
import { BigchainNode, nodeOptions } from '../node/node.ts';
import { generateKeyPair } from '../protocol/crypto.ts';
import { IN_MEMORY_PATH } from '../storage/embedded-server.ts';
import { commandHelp, parseCommandLine, programHelp } from './command-line.ts';
import { PROGRAM, START_POSTGRESQL } from './commands.ts';
import { runConfigure, runExportMyPubkey, runShowConfig } from './config-commands.ts';
import {
  commandConfig,
  commandKeyPair,
  databaseLabel,
  refuseForeignChain,
  type CliIO,
  type Context,
} from './context.ts';
import { CliError, describe, UsageError } from './errors.ts';
import { runLoad } from './load-command.ts';
import {
  runBackup,
  runDrop,
  runInit,
  runPrune,
  runRestore,
  runSetReplicas,
  runSetShards,
} from './storage-commands.ts';
import { runVerify } from './verify-command.ts';

export type { CliIO, Context } from './context.ts';
export { CliError } from './errors.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

type Runner = (context: Context) => Promise<void>;

/** What runs each command of the table in commands.ts (`help` is answered by the parser). */
const RUNNERS: Record<string, Runner> = {
  init: runInit,
  drop: runDrop,
  'set-shards': runSetShards,
  'set-replicas': runSetReplicas,
  backup: runBackup,
  restore: runRestore,
  prune: runPrune,
  verify: runVerify,
  start: runStart,
  load: runLoad,
  configure: runConfigure,
  'show-config': runShowConfig,
  'export-my-pubkey': runExportMyPubkey,
};

function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/**
 * Runs one command line; returns the exit code: 0, 1 for a failure, 2 for a usage error (the reason and
 * the usage on stderr). Help and the version go to stdout, exit 0, and nothing else is done.
 */
export async function run(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const print = (stream: Writable, text: string) => stream.write(text.endsWith('\n') ? text : `${text}\n`);
  try {
    const line = parseCommandLine(argv);
    for (const notice of line.notices) print(io.stderr, `${PROGRAM}: ${notice}`);
    if (line.kind === 'help') {
      print(io.stdout, line.command === undefined ? programHelp() : commandHelp(line.command));
      return 0;
    }
    if (line.kind === 'version') {
      print(io.stdout, `${PROGRAM} ${version}`);
      return 0;
    }
    const runner = RUNNERS[line.command.name];
    if (runner === undefined) throw new Error(`the command ${line.command.name} has no runner`);
    const { config, yes, ...flags } = line.options;
    const context: Context = {
      options: { yes: yes === true, ...(config === undefined ? {} : { configPath: String(config) }) },
      flags,
      args: line.args,
      io,
    };
    await runner(context);
    return 0;
  } catch (error) {
    const usage = error instanceof UsageError ? `\n\n${error.usage}` : '';
    print(io.stderr, `${PROGRAM}: ${describe(error)}${usage}`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

/**
 * `start [--experimental-start-postgresql] [--accept-federation-change]`: runs the node (startNode) until
 * SIGINT or SIGTERM, listening for them from the first moment.
 */
async function runStart(context: Context): Promise<void> {
  // Listening from the first moment: a signal during start-up stops the node cleanly once it runs (and the
  // local PostgreSQL server with it) instead of killing the process half-way.
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await startNode(context, context.flags[START_POSTGRESQL] === true, stopSignal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Loads the configuration and runs the node; with --experimental-start-postgresql on the embedded backend
 * whatever the configuration says. On a fresh machine (no -c, no BIGCHAINDB_CONFIG_PATH, no file at the
 * default path) it first writes a configuration with a new keypair and database password (so `npm start`
 * needs nothing else); the node creates the database with its genesis block.
 */
async function startNode(
  context: Context,
  embeddedServer: boolean,
  stopSignal: Promise<NodeJS.Signals>,
): Promise<void> {
  // A file named by -c or BIGCHAINDB_CONFIG_PATH must exist: only the default path gets a first file here.
  // The logger's level comes from the configuration: what loading it warns about is logged once it exists.
  const warnings: string[] = [];
  const loaded = await commandConfig(context, (message) => warnings.push(message));
  const cfg = loaded.config;
  const log = streamLogger(context.io.stderr, { level: cfg.log.level });
  log.info(`BigchainDB Version ${version}`);
  for (const warning of warnings) log.warn(warning);
  if (!loaded.fileFound && cfg.keypair.public === null && cfg.keypair.private === null) {
    const keyPair = generateKeyPair();
    cfg.keypair = { public: keyPair.publicKey, private: keyPair.privateKey };
    cfg.database.password ??= generateDatabasePassword();
    await writeConfigFile(loaded.path, cfg);
    log.info(`Generated a keypair; configuration written to ${loaded.path}`);
  }
  commandKeyPair(context, loaded);
  if (embeddedServer) cfg.database.backend = 'embedded';
  if (cfg.database.backend === 'embedded' && cfg.database.password === null)
    log.info(
      'database.password is not set: the embedded PostgreSQL server trusts any connection through its ' +
        `socket in ${cfg.database.path}, a directory only this OS user can enter; \`${PROGRAM} configure\` ` +
        'generates a password',
    );
  if (cfg.database.backend !== 'embedded' || cfg.database.path !== IN_MEMORY_PATH)
    return runNode(context, cfg, log, stopSignal);
  // A throwaway database that the node's API worker processes must share: one temp dir for all of them.
  const path = await mkdtemp(join(tmpdir(), 'bigchaindb-memory-'));
  try {
    await runNode(context, { ...cfg, database: { ...cfg.database, path } }, log, stopSignal);
  } finally {
    await rm(path, { recursive: true, force: true });
  }
}

/**
 * How many HTTP API processes `server.workers` (checked by the configuration) asks for: unset, one per core;
 * 0, none of their own (the API runs in the node process).
 */
export function apiWorkerCount(cfg: NodeConfig, log: Logger): number {
  const { workers, threads } = cfg.server;
  if (threads !== null)
    log.info('server.threads has no effect: each HTTP API process serves its requests on one event loop');
  return workers ?? availableParallelism();
}

/** The HTTP API: in this process, or in `server.workers` processes of its own; resolves to its URL. */
async function serveApi(
  cfg: NodeConfig,
  node: BigchainNode,
  log: Logger,
): Promise<{ url: string; stop(): Promise<void> }> {
  const workers = apiWorkerCount(cfg, log);
  try {
    if (workers > 0) {
      const api = await startApiWorkers(cfg, version, workers, log, node);
      log.info(`HTTP API served by ${workers} worker process${workers === 1 ? '' : 'es'} (server.workers)`);
      return api;
    }
    const { bigchain } = node;
    const api = createApiServer({
      bigchain,
      admission: new Admission(bigchain, node.pool, node.verified, {
        maxClockSkew: cfg.max_clock_skew,
        metrics: node.metrics,
      }),
      info: { version, apiEndpoint: cfg.api_endpoint },
      metrics: async () => renderMetrics([await node.metrics.snapshot()]),
      requestMetrics: node.metrics,
      readiness: () => node.readiness(),
      log: log.child('http'),
    });
    const url = await listen(api, cfg.server.bind);
    const stop = () =>
      new Promise<void>((resolve) => {
        api.close(() => resolve());
        api.closeAllConnections();
      });
    return { url, stop };
  } catch (error) {
    throw new CliError(`cannot serve the HTTP API on ${cfg.server.bind} (server.bind): ${describe(error)}`);
  }
}

/**
 * Runs the node until SIGINT or SIGTERM: the pipelines, then the HTTP API; on the signal the API closes,
 * the block in hand is finished, and waiting transactions stay in the backlog.
 */
async function runNode(
  context: Context,
  cfg: NodeConfig,
  log: Logger,
  stopSignal: Promise<NodeJS.Signals>,
): Promise<void> {
  const bigchain = await Bigchain.open(cfg, {
    create: true,
    asNode: true,
    onEmbeddedServer: ({ state, socketDir }) =>
      log.info(
        state === 'adopted'
          ? `PostgreSQL already runs in ${socketDir} (left by a node that was killed); using it`
          : `PostgreSQL ${state === 'created' ? 'created and ' : ''}started in ${socketDir}`,
      ),
  });
  const warn = (message: string) => log.warn(message);
  let node: BigchainNode;
  try {
    // A chain this node does not belong to (another keypair or keyring) is refused before anything runs.
    const hadChain = await bigchain.storage.isInitialized();
    if (hadChain) await refuseForeignChain(bigchain, context, cfg, 'start', warn);
    node = await BigchainNode.start(bigchain, {
      ...nodeOptions(cfg, log),
      metrics: new NodeMetrics({ processMetrics: true, statsd: cfg.statsd, log: log.child('statsd') }),
    });
    if (!hadChain) {
      // Nodes of a federation starting together race to write the genesis block: another may have won.
      try {
        await refuseForeignChain(bigchain, context, cfg, 'start', warn);
      } catch (error) {
        await node.stop();
        throw error;
      }
    }
  } catch (error) {
    await bigchain.close();
    throw error;
  }
  let api: { url: string; stop(): Promise<void> };
  try {
    api = await serveApi(cfg, node, log);
  } catch (error) {
    await node.stop();
    await bigchain.close();
    throw error;
  }
  log.info(`Listening to client connections on: ${api.url}${API_PREFIX}`);
  const statsd =
    cfg.statsd.host === ''
      ? 'no StatsD (statsd.host is empty)'
      : `StatsD to ${cfg.statsd.host}:${cfg.statsd.port} at rate ${cfg.statsd.rate}`;
  log.info(`Monitoring: ${api.url}/metrics (Prometheus), ${api.url}/healthz, ${api.url}/readyz; ${statsd}`);
  log.info(`Starting BigchainDB main process: node ${bigchain.me} on the ${databaseLabel(cfg)}`);
  log.info(`Federation of ${bigchain.federation.length} nodes; stop with Ctrl-C (SIGINT) or SIGTERM`);
  const signal = await stopSignal;
  log.info(`${signal}: finishing the block in hand; waiting transactions stay in the backlog`);
  await api.stop();
  await node.stop();
  await bigchain.close();
  log.info(cfg.database.backend === 'embedded' ? 'Stopped, and its PostgreSQL server with it' : 'Stopped');
}
