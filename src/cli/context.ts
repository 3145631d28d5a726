import type { Readable, Writable } from 'node:stream';
import {
  configFileNamed,
  loadConfig,
  nodeKeyPair,
  type LoadedConfig,
  type NodeConfig,
} from '../config/config.ts';
import type { Bigchain, IdentityMismatch } from '../node/bigchain.ts';
import type { KeyPair } from '../protocol/crypto.ts';
import { ACCEPT_FEDERATION_CHANGE, PROGRAM } from './commands.ts';
import type { Values } from './command-line.ts';
import { CliError } from './errors.ts';

export interface CliIO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
}

/** The global options a command reads. */
export interface GlobalOptions {
  configPath?: string;
  yes: boolean;
}

/** What a command runs with: the parsed command line (see commands.ts) and the process's streams. */
export interface Context {
  options: GlobalOptions;
  /** the command's own options, by long name (a flag given: true) */
  flags: Values;
  /** the command's arguments, by name (FILE, NUM_SHARDS) */
  args: Values;
  io: CliIO;
}

/** `bigchaindb: warning: …` on stderr. */
export function stderrWarning(io: CliIO): (message: string) => void {
  return (message) => io.stderr.write(`${PROGRAM}: warning: ${message}\n`);
}

/**
 * The configuration a command runs with. A file named by `-c` or BIGCHAINDB_CONFIG_PATH must exist (only
 * `configure` writes one); unknown settings in the file are a warning, not an error.
 */
export async function commandConfig(
  context: Context,
  warn: (message: string) => void = stderrWarning(context.io),
): Promise<LoadedConfig> {
  const { configPath } = context.options;
  const { env } = context.io;
  if (configPath === '-')
    throw new CliError('-c - (print the configuration to stdout) only applies to configure', 2);
  const loaded = await loadConfig({
    env,
    ...(configPath === undefined ? {} : { path: configPath }),
    requireFile: configFileNamed(configPath, env),
  });
  if (loaded.unknownSettings.length > 0)
    warn(
      `${loaded.path} has settings this node does not know, ignored: ${loaded.unknownSettings.join(', ')}`,
    );
  if (loaded.unknownEnvironment.length > 0)
    warn(
      `environment variables that name no setting, ignored: ${loaded.unknownEnvironment.join(', ')} ` +
        '(`bigchaindb show-config` lists the settings; BIGCHAINDB_<SECTION>_<KEY> sets one)',
    );
  return loaded;
}

/** The node's keypair; without one, the message names the file and the command that writes one. */
export function commandKeyPair(context: Context, loaded: LoadedConfig): KeyPair {
  const { configPath } = context.options;
  return nodeKeyPair(loaded.config, {
    where: loaded.fileFound ? loaded.path : `the configuration (there is no file at ${loaded.path})`,
    configure: configPath === undefined ? `${PROGRAM} configure` : `${PROGRAM} -c ${configPath} configure`,
  });
}

export function databaseLabel(config: NodeConfig): string {
  const database = config.database;
  return database.backend === 'embedded'
    ? `embedded database in ${database.path}`
    : `PostgreSQL database \`${database.name}\` on ${database.host}:${database.port}`;
}

/** The differences, one line each. */
function mismatchLines(mismatch: IdentityMismatch): string[] {
  const list = (keys: readonly string[]) => keys.join(', ');
  const lines = [
    `  this node:           ${mismatch.me}`,
    `  genesis block:       ${mismatch.genesisBlock}, made by ${mismatch.genesisCreator}` +
      (mismatch.creatorKnown
        ? mismatch.genesisCreator === mismatch.me
          ? ' (this node)'
          : ' (in the keyring)'
        : ", which is neither this node's key nor in its keyring"),
  ];
  if (mismatch.missing.length > 0)
    lines.push(
      `  missing here:        ${list(mismatch.missing)} (in the genesis federation, not in the keyring)`,
    );
  if (mismatch.extra.length > 0)
    lines.push(
      `  extra here:          ${list(mismatch.extra)} (in this node's federation, not in the genesis federation)`,
    );
  return lines;
}

/**
 * `start` and `init` on a chain this node does not belong to (Bigchain.checkIdentity): refused, with the
 * keys and what to do, unless the operator passed --accept-federation-change; then `warn` says it anyway.
 */
export async function refuseForeignChain(
  bigchain: Bigchain,
  context: Context,
  config: NodeConfig,
  command: string,
  warn: (message: string) => void,
): Promise<void> {
  const mismatch = await bigchain.checkIdentity();
  if (mismatch === undefined) return;
  const where = `the ${databaseLabel(config)}`;
  if (context.flags[ACCEPT_FEDERATION_CHANGE] === true) {
    warn(
      `--${ACCEPT_FEDERATION_CHANGE}: going ahead on ${where}, whose genesis block was made by another node ` +
        `or for another federation:\n${mismatchLines(mismatch).join('\n')}`,
    );
    return;
  }
  const configFlag = context.options.configPath === undefined ? '' : ` -c ${context.options.configPath}`;
  throw new CliError(
    [
      `refusing to ${command} on ${where}: it holds the chain of another node or federation (this node's ` +
        'federation is its keyring and its own key)',
      ...mismatchLines(mismatch),
      'Use the configuration (keypair and keyring) this database belongs to (-c PATH), or, if the ' +
        `federation really changed, run \`${PROGRAM}${configFlag} ${command} --${ACCEPT_FEDERATION_CHANGE}\`.`,
    ].join('\n'),
  );
}
