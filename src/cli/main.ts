import { createReadStream, createWriteStream, openSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { loadConfig, nodeKeyPair, writeConfigFile, type NodeConfig } from '../config/config.ts';
import { Admission } from '../api/admission.ts';
import { API_PREFIX, createApiServer, listen } from '../api/server.ts';
import { startApiWorkers } from '../api/workers.ts';
import { Bigchain } from '../node/bigchain.ts';
import { streamLogger, type Logger } from '../node/log.ts';
import { BigchainNode, nodeOptions } from '../node/node.ts';
import { prepareGenesisBlock } from '../protocol/block.ts';
import { generateKeyPair } from '../protocol/crypto.ts';
import { BigchainDBError, errorCode } from '../protocol/errors.ts';
import { setReplicas, setShards, type AdminReport } from '../storage/admin.ts';
import {
  backup,
  pruneAfterLastValidBlock,
  rebuildDerivedRows,
  restore,
  type BackupProgress,
} from '../storage/maintenance.ts';
import { DatabaseAlreadyExists } from '../storage/errors.ts';
import { startLocalPostgres } from '../storage/local-postgres.ts';
import { openStorage } from '../storage/open.ts';
import type { Storage } from '../storage/storage.ts';
import { runConfigure, runExportMyPubkey, runShowConfig } from './config-commands.ts';
import { runLoad } from './load-command.ts';
import { runVerify } from './verify-command.ts';

const START_POSTGRESQL_FLAG = '--experimental-start-postgresql';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export interface CliIO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
}

/** A failure the CLI reports as one message and a non-zero exit, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const HELP = `usage: bigchaindb [-h] [-v] [-c CONFIG] [-y] <command> [<args>]

Control your BigchainDB node.

commands:
  init              Init the database
  drop              Drop the database
  set-shards N      Configure number of shards (PostgreSQL backend: hash partitions)
  set-replicas N    Configure number of replicas (PostgreSQL backend: synchronous standbys)
  backup FILE       Save every block and vote to FILE (NDJSON; - for stdout)
  restore FILE      Restore a backup into an empty database (- for stdin), then apply the restore rule
  prune [--rebuild] Apply the restore rule after restoring a snapshot or a pg_dump: clear the backlog, drop
                    blocks after the last valid block and their votes, rebuild indexes (--rebuild: also
                    re-derive the transaction, output and spend rows from the blocks)
  verify            Re-verify every stored block, vote and transaction; report any that was tampered with
  start             Start BigchainDB: the HTTP API on server.bind and the block, vote, election and
                    stale pipelines (creates a config with a new keypair and the database when missing)
                    --experimental-start-postgresql: run a local PostgreSQL server for it
                    (~/.bigchaindb-postgresql, port database.port), stopped when the node stops; one
                    left running by a killed start is used
  load              Send CREATE transactions to the node's HTTP API (api_endpoint), showing progress and
                    a summary of rate, latency and errors
                    -m, --multiprocess [N]: N concurrent senders (bare: one per core; default 1)
                    -c, --count N: transactions to send (default 0: until Ctrl-C)
  configure         Prepare the config file and create the node keypair
  show-config       Show the current configuration
  export-my-pubkey  Export this node's public key

options:
  -h, --help              show this help and exit
  -v, --version           show the version and exit
  -c, --config CONFIG     the configuration file (default $BIGCHAINDB_CONFIG_PATH or ~/.bigchaindb)
  -y, --yes, --yes-please assume "yes" as answer to all prompts and run non-interactively
  --experimental-start-postgresql
                          with start: run a local PostgreSQL server for the node (as start's own option)
`;

interface Options {
  configPath?: string;
  yes: boolean;
  /** `bigchaindb --experimental-start-postgresql start`, the seed's placement of its RethinkDB flag */
  startPostgresql: boolean;
}

export interface Context {
  options: Options;
  args: string[];
  io: CliIO;
}

type Command = (context: Context) => Promise<void>;

const COMMANDS: Record<string, Command> = {
  init: runInit,
  drop: runDrop,
  'set-shards': (context) => runAdmin(context, 'set-shards', 'num_shards', setShards),
  'set-replicas': (context) => runAdmin(context, 'set-replicas', 'num_replicas', setReplicas),
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

/** Runs one command line; returns the exit code. */
export async function run(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const print = (stream: Writable, text: string) => stream.write(text.endsWith('\n') ? text : `${text}\n`);
  try {
    const options: Options = { yes: false, startPostgresql: false };
    const rest = [...argv];
    while (rest[0]?.startsWith('-')) {
      const flag = rest.shift() as string;
      if (flag === '-h' || flag === '--help') {
        print(io.stdout, HELP);
        return 0;
      } else if (flag === '-v' || flag === '--version') {
        print(io.stdout, `bigchaindb ${version}`);
        return 0;
      } else if (flag === '-y' || flag === '--yes' || flag === '--yes-please') {
        options.yes = true;
      } else if (flag === START_POSTGRESQL_FLAG) {
        options.startPostgresql = true;
      } else if (flag === '-c' || flag === '--config') {
        const path = rest.shift();
        if (path === undefined) throw new CliError(`${flag} needs a file path`, 2);
        options.configPath = path;
      } else {
        throw new CliError(`unknown option ${flag}\n\n${HELP}`, 2);
      }
    }
    const [name, ...args] = rest;
    if (name === undefined) {
      print(io.stdout, HELP);
      return 0;
    }
    const command = COMMANDS[name];
    if (command === undefined) throw new CliError(`unknown command ${JSON.stringify(name)}\n\n${HELP}`, 2);
    if (options.startPostgresql && name !== 'start')
      throw new CliError(`${START_POSTGRESQL_FLAG} only applies to start`, 2);
    await command({ options, args, io });
    return 0;
  } catch (error) {
    print(io.stderr, `bigchaindb: ${describe(error)}`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

/** The reason, without a stack: our own errors carry a complete message; system errors get context. */
function describe(error: unknown): string {
  if (error instanceof CliError || error instanceof BigchainDBError) return error.message;
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) {
    if (errorCode(error) === 'ECONNREFUSED')
      return `cannot connect to the PostgreSQL server (${error.message})`;
    return error.message;
  }
  return String(error);
}

async function config(context: Context): Promise<NodeConfig> {
  const loadOptions =
    context.options.configPath === undefined
      ? { env: context.io.env }
      : {
          env: context.io.env,
          path: context.options.configPath,
        };
  return (await loadConfig(loadOptions)).config;
}

function databaseLabel(config: NodeConfig): string {
  const database = config.database;
  return database.backend === 'embedded'
    ? `embedded database in ${database.path}`
    : `PostgreSQL database \`${database.name}\` on ${database.host}:${database.port}`;
}

async function withStorage<T>(
  config: NodeConfig,
  work: (storage: Storage) => Promise<T>,
  options: { create?: boolean } = {},
): Promise<T> {
  const storage = await openStorage(config.database, options);
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

function parseCount(args: string[], argument: string, command: string): number {
  const [text, extra] = args;
  if (text === undefined || extra !== undefined || !/^\d+$/.test(text) || Number(text) < 1) {
    throw new CliError(`usage: bigchaindb ${command} ${argument.toUpperCase()} (a whole number ≥ 1)`, 2);
  }
  return Number(text);
}

function noArguments(context: Context, command: string): void {
  if (context.args.length > 0) throw new CliError(`${command} takes no arguments`, 2);
}

async function runInit(context: Context): Promise<void> {
  noArguments(context, 'init');
  const cfg = await config(context);
  const keyPair = nodeKeyPair(cfg);
  const genesis = prepareGenesisBlock(keyPair, [...cfg.keyring, keyPair.publicKey]);
  await withStorage(
    cfg,
    async (storage) => {
      try {
        await storage.init(genesis);
      } catch (error) {
        if (!(error instanceof DatabaseAlreadyExists)) throw error;
        context.io.stderr.write(
          'The database already exists.\nIf you wish to re-initialize it, first drop it.\n',
        );
        return;
      }
      context.io.stdout.write(`Initialised the ${databaseLabel(cfg)}; genesis block ${genesis.id}.\n`);
    },
    { create: true },
  );
}

async function runDrop(context: Context): Promise<void> {
  noArguments(context, 'drop');
  const cfg = await config(context);
  const name = cfg.database.backend === 'embedded' ? cfg.database.path : cfg.database.name;
  if (!context.options.yes) {
    const prompt = createInterface({ input: context.io.stdin, output: context.io.stdout, terminal: false });
    const answer = await prompt.question(`Do you want to drop \`${name}\` database? [y/n]: `);
    prompt.close();
    if (answer.trim() !== 'y') {
      context.io.stdout.write('Drop aborted\n');
      return;
    }
  }
  await withStorage(cfg, async (storage) => {
    await storage.drop();
    context.io.stdout.write(`Dropped the ${databaseLabel(cfg)}.\n`);
  });
}

async function runAdmin(
  context: Context,
  command: string,
  argument: string,
  action: (storage: Storage, count: number) => Promise<AdminReport>,
): Promise<void> {
  const count = parseCount(context.args, argument, command);
  const cfg = await config(context);
  const report = await withStorage(cfg, (storage) => action(storage, count));
  for (const line of report.done) context.io.stdout.write(`${line}\n`);
  for (const line of report.todo) context.io.stdout.write(`To do: ${line}\n`);
}

function fileArgument(context: Context, command: string): string {
  const [file, extra] = context.args;
  if (file === undefined || extra !== undefined) throw new CliError(`usage: bigchaindb ${command} FILE`, 2);
  return file;
}

/** A progress line rewritten in place on a terminal (nothing when stderr is a file or pipe). */
function progressLine(io: CliIO, verb: string): { update(done: BackupProgress): void; end(): void } {
  const stream = io.stderr as Writable & { isTTY?: boolean };
  let shown = false;
  return {
    update(done) {
      if (!stream.isTTY) return;
      stream.write(`\r${verb} ${done.blocks} blocks, ${done.votes} votes`);
      shown = true;
    },
    end() {
      if (shown) stream.write('\n');
    },
  };
}

/** Opens FILE for the backup, refusing to overwrite one: a backup is worth more than a typo. */
function createBackupFile(file: string): Writable {
  try {
    return createWriteStream(file, { fd: openSync(file, 'wx') });
  } catch (error) {
    throw new CliError(`cannot create ${file}: ${describe(error)}`);
  }
}

async function runBackup(context: Context): Promise<void> {
  const file = fileArgument(context, 'backup');
  const cfg = await config(context);
  const toStdout = file === '-';
  const out = toStdout ? context.io.stdout : createBackupFile(file);
  const progress = progressLine(context.io, 'backed up');
  try {
    const summary = await withStorage(cfg, (storage) =>
      backup(storage, out, { onProgress: progress.update }),
    );
    progress.end();
    if (!toStdout) {
      out.end();
      await finished(out);
    }
    const where = toStdout ? '' : ` to ${file}`;
    context.io.stderr.write(`Backed up ${summary.blocks} blocks and ${summary.votes} votes${where}.\n`);
  } catch (error) {
    if (!toStdout) {
      out.destroy();
      rmSync(file, { force: true });
    }
    throw error;
  }
}

function openBackupFile(file: string): Readable {
  try {
    return createReadStream(file, { fd: openSync(file, 'r'), encoding: 'utf8' });
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${describe(error)}`);
  }
}

async function runRestore(context: Context): Promise<void> {
  const file = fileArgument(context, 'restore');
  const cfg = await config(context);
  const input = file === '-' ? context.io.stdin : openBackupFile(file);
  const federation = cfg.keypair.public === null ? undefined : [...cfg.keyring, cfg.keypair.public];
  const progress = progressLine(context.io, 'restored');
  const summary = await withStorage(
    cfg,
    (storage) =>
      restore(storage, input, {
        onProgress: progress.update,
        ...(federation === undefined ? {} : { federation }),
      }),
    { create: true },
  );
  progress.end();
  const { droppedBlocks, droppedVotes, droppedTransactions } = summary;
  context.io.stdout.write(
    `Restored ${summary.blocks} blocks and ${summary.votes} votes into the ${databaseLabel(cfg)}.\n` +
      `Kept ${summary.blocks - droppedBlocks} blocks, ${summary.keptTransactions} transactions and ` +
      `${summary.votes - droppedVotes} votes; dropped ${droppedBlocks} blocks, ${droppedTransactions} ` +
      `transactions and ${droppedVotes} votes.\n` +
      `Kept everything up to the last valid block ${summary.lastValidBlock}; dropped ${droppedBlocks} ` +
      `blocks after it and their ${droppedVotes} votes; the backlog is empty.\n`,
  );
}

async function runPrune(context: Context): Promise<void> {
  const rebuild = context.args[0] === '--rebuild';
  if (context.args.length > (rebuild ? 1 : 0)) throw new CliError('usage: bigchaindb prune [--rebuild]', 2);
  const cfg = await config(context);
  await withStorage(cfg, async (storage) => {
    if (rebuild) {
      const rebuilt = await rebuildDerivedRows(storage);
      context.io.stdout.write(
        `Re-derived ${rebuilt.transactions} transaction, ${rebuilt.outputs} output and ${rebuilt.spends} spend ` +
          `rows from ${rebuilt.blocks} blocks.\n`,
      );
    }
    const pruned = await pruneAfterLastValidBlock(storage);
    context.io.stdout.write(
      `Kept everything up to the last valid block ${pruned.lastValidBlock}; deleted ${pruned.blocks.length} ` +
        `blocks after it, ${pruned.votes} votes on them and ${pruned.backlog} backlog entries; rebuilt the indexes. ` +
        `The deleted blocks held ${pruned.transactions} transactions.\n`,
    );
  });
}

/**
 * `start [--experimental-start-postgresql]`. On a fresh machine it first writes a configuration with a new
 * keypair (so `npm start` needs nothing else); the node creates the database with its genesis block.
 */
async function runStart(context: Context): Promise<void> {
  const [flag, ...extra] = context.args;
  if (extra.length > 0 || (flag !== undefined && flag !== START_POSTGRESQL_FLAG))
    throw new CliError(`usage: bigchaindb start [${START_POSTGRESQL_FLAG}]`, 2);
  // Listening from the first moment: a signal during start-up stops the node cleanly once it runs (and the
  // local PostgreSQL server with it) instead of killing the process half-way.
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await startNode(context, flag !== undefined || context.options.startPostgresql, stopSignal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function startNode(
  context: Context,
  withLocalPostgres: boolean,
  stopSignal: Promise<NodeJS.Signals>,
): Promise<void> {
  const log = streamLogger(context.io.stderr);
  log.info(`BigchainDB Version ${version}`);
  const loaded = await loadConfig({
    env: context.io.env,
    ...(context.options.configPath === undefined ? {} : { path: context.options.configPath }),
  });
  const cfg = loaded.config;
  if (!loaded.fileFound && cfg.keypair.public === null && cfg.keypair.private === null) {
    const keyPair = generateKeyPair();
    cfg.keypair = { public: keyPair.publicKey, private: keyPair.privateKey };
    await writeConfigFile(loaded.path, cfg);
    log.info(`Generated a keypair; configuration written to ${loaded.path}`);
  }
  if (!withLocalPostgres) return runNode(cfg, log, stopSignal);
  // The analogue of 0.6's --experimental-start-rethinkdb: a server of our own, stopped when the node stops.
  const dir = join(context.io.env.HOME ?? homedir(), '.bigchaindb-postgresql');
  const local = await startLocalPostgres(dir, cfg.database.port);
  log.info(
    local.state === 'adopted'
      ? `PostgreSQL already runs in ${dir} on port ${local.port} (left by a start that was killed); using it`
      : `PostgreSQL ${local.state === 'created' ? 'created and ' : ''}started in ${dir} on port ${local.port}`,
  );
  cfg.database = {
    ...cfg.database,
    backend: 'postgresql',
    host: local.host,
    port: local.port,
    user: local.user,
  };
  try {
    await runNode(cfg, log, stopSignal);
  } finally {
    await local.stop();
    log.info('PostgreSQL stopped');
  }
}

/**
 * Runs the node until SIGINT or SIGTERM: the pipelines, then the HTTP API; on the signal the API closes,
 * the block in hand is finished, and waiting transactions stay in the backlog.
 */
/** How many HTTP API processes `server.workers` (checked by the configuration) asks for; 0: none of their own. */
function apiWorkerCount(cfg: NodeConfig, log: Logger): number {
  const { workers, threads } = cfg.server;
  if (threads !== null)
    log.info('server.threads has no effect: each HTTP API process serves its requests on one event loop');
  if (workers === null) return 0;
  if (cfg.database.backend === 'embedded') {
    log.warn(
      'server.workers needs the postgresql backend (the embedded database lives in one process); ' +
        'the HTTP API runs in the node process',
    );
    return 0;
  }
  return workers;
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
      const api = await startApiWorkers(cfg, version, workers, log);
      log.info(`HTTP API served by ${workers} worker process${workers === 1 ? '' : 'es'} (server.workers)`);
      return api;
    }
    const { bigchain } = node;
    const api = createApiServer({
      bigchain,
      admission: new Admission(bigchain, node.pool, node.verified, { maxClockSkew: cfg.max_clock_skew }),
      info: { version, apiEndpoint: cfg.api_endpoint },
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

async function runNode(cfg: NodeConfig, log: Logger, stopSignal: Promise<NodeJS.Signals>): Promise<void> {
  const bigchain = await Bigchain.open(cfg, { create: true });
  let node: BigchainNode;
  try {
    node = await BigchainNode.start(bigchain, nodeOptions(cfg, log));
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
  log.info(`Starting BigchainDB main process: node ${bigchain.me} on the ${databaseLabel(cfg)}`);
  log.info(`Federation of ${bigchain.federation.length} nodes; stop with Ctrl-C (SIGINT) or SIGTERM`);
  const signal = await stopSignal;
  log.info(`${signal}: finishing the block in hand; waiting transactions stay in the backlog`);
  await api.stop();
  await node.stop();
  await bigchain.close();
  log.info('Stopped');
}
