import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { publicKeyFromPrivate, type KeyPair } from '../protocol/crypto.ts';
import { BigchainDBError, errorCode, messageOf } from '../protocol/errors.ts';
import { DEFAULT_DATABASE_CONFIG, type DatabaseConfig } from '../storage/open.ts';

/**
 * The node configuration: the seed's settings (server, database, keypair, keyring, statsd, api_endpoint,
 * consensus_plugin) plus this implementation's own (database.backend/path/user/password,
 * backlog_reassign_delay, block_timeout, max_clock_skew, log.level). Precedence, as in 0.6: defaults < config file < BIGCHAINDB_* environment.
 */
export interface NodeConfig {
  server: { bind: string; workers: number | null; threads: number | null };
  database: DatabaseConfig;
  keypair: { public: string | null; private: string | null };
  keyring: string[];
  statsd: { host: string; port: number; rate: number };
  api_endpoint: string;
  consensus_plugin: string;
  /** seconds a transaction may wait in the backlog before another node is given it */
  backlog_reassign_delay: number;
  /** seconds the first transaction of a block waits for the block to fill (1000 transactions) */
  block_timeout: number;
  /** seconds a client CREATE's timestamp may differ from the node's clock */
  max_clock_skew: number;
  /** error, warn, info or debug */
  log: { level: 'error' | 'warn' | 'info' | 'debug' };
}

/** A configuration that cannot be used: a file that is not JSON, a value of the wrong type, a missing keypair. */
export class ConfigurationError extends BigchainDBError {}

/** The configuration has no node keypair (0.6 KeypairNotFoundException). */
export class KeypairNotFoundException extends ConfigurationError {}

/** The configuration file does not exist where `-c` or BIGCHAINDB_CONFIG_PATH says it is. */
export class ConfigFileNotFoundError extends ConfigurationError {}

/** Where a keypair was looked for, for the message when there is none. */
export interface KeypairSource {
  /** e.g. the file, `~/.bigchaindb`; default `the configuration` */
  where?: string;
  /** the command that writes a configuration with a keypair there; default `bigchaindb configure` */
  configure?: string;
}

/** The node's keypair from the configuration, checked to be a pair. */
export function nodeKeyPair(config: NodeConfig, source: KeypairSource = {}): KeyPair {
  const { public: publicKey, private: privateKey } = config.keypair;
  if (publicKey === null || privateKey === null) {
    const where = source.where ?? 'the configuration';
    const unset =
      publicKey === null && privateKey === null
        ? ''
        : ` (keypair.${publicKey === null ? 'public' : 'private'} is not set)`;
    throw new KeypairNotFoundException(
      `no keypair in ${where}${unset}: run \`${source.configure ?? 'bigchaindb configure'}\` to write a ` +
        'configuration with a new keypair, or set keypair.public and keypair.private',
      { where },
    );
  }
  let derived: string;
  try {
    derived = publicKeyFromPrivate(privateKey);
  } catch {
    throw new ConfigurationError('keypair.private is not a base58 Ed25519 private key');
  }
  if (derived !== publicKey)
    throw new ConfigurationError('keypair.public is not the public key of keypair.private');
  return { publicKey, privateKey };
}

/** The settings that are secrets: shown masked (show-config). */
export const SECRET_SETTINGS = ['keypair.private', 'database.password'] as const;

/** What a secret that is set is shown as. */
export const SECRET_MASK = 'x'.repeat(45);

/** A copy of the configuration with every secret that is set replaced by SECRET_MASK. */
export function maskSecrets(config: NodeConfig): NodeConfig {
  const masked = structuredClone(config) as unknown as Record<string, Json>;
  for (const setting of SECRET_SETTINGS) {
    const [section, key] = setting.split('.') as [string, string];
    const holder = masked[section];
    if (isObject(holder) && holder[key] !== null && holder[key] !== undefined) holder[key] = SECRET_MASK;
  }
  return masked as unknown as NodeConfig;
}

/** Every setting at its default (docs/configuration.md): what a node runs with before any file or variable. */
export function defaultConfig(): NodeConfig {
  return {
    server: { bind: 'localhost:9984', workers: null, threads: null },
    database: { ...DEFAULT_DATABASE_CONFIG, user: null, password: null },
    keypair: { public: null, private: null },
    keyring: [],
    statsd: { host: 'localhost', port: 8125, rate: 0.01 },
    api_endpoint: 'http://localhost:9984/api/v1',
    consensus_plugin: 'default',
    backlog_reassign_delay: 30,
    block_timeout: 1,
    max_clock_skew: 600,
    log: { level: 'info' },
  };
}

/** `BIGCHAINDB_CONFIG_PATH`, else `$HOME/.bigchaindb`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.BIGCHAINDB_CONFIG_PATH ?? join(homedir(), '.bigchaindb');
}

/** Settings whose default is null, and what a value must be ('count': a whole number, 0 included). */
const NULLABLE_TYPES: Record<string, 'count' | 'number' | 'string'> = {
  // null: one HTTP API process per core; 0: the API in the node process (cli/main.ts apiWorkerCount)
  'server.workers': 'count',
  'server.threads': 'number',
  'keypair.public': 'string',
  'keypair.private': 'string',
  'database.user': 'string',
  'database.password': 'string',
};

const CHOICES: Record<string, readonly string[]> = {
  'database.backend': ['embedded', 'postgresql'],
  'log.level': ['error', 'warn', 'info', 'debug'],
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface LoadOptions {
  /** the config file; default defaultConfigPath(env) */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * A missing file is a ConfigFileNotFoundError instead of the defaults: for a file the operator named
   * (`-c`, BIGCHAINDB_CONFIG_PATH), where the defaults would run the node under another identity.
   */
  requireFile?: boolean;
}

export interface LoadedConfig {
  config: NodeConfig;
  path: string;
  /** false when the file does not exist (defaults and environment only) */
  fileFound: boolean;
  /**
   * Settings in the file this node does not know (typos such as `databse.host`), as dotted paths to each
   * value: kept in `config`, but nothing reads them.
   */
  unknownSettings: string[];
  /** BIGCHAINDB_* environment variables that name no setting (typos such as BIGCHAINDB_DATABSE_HOST) */
  unknownEnvironment: string[];
}

/** BIGCHAINDB_* variables read other than as a setting. */
const ENVIRONMENT_NOT_SETTINGS = new Set(['BIGCHAINDB_CONFIG_PATH']);

/** Whether the configuration file was named by the operator (`-c PATH` or BIGCHAINDB_CONFIG_PATH). */
export function configFileNamed(path: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return path !== undefined || env.BIGCHAINDB_CONFIG_PATH !== undefined;
}

/**
 * Defaults, then the JSON file (if any), then every BIGCHAINDB_* variable naming a setting: the configuration
 * as `bigchaindb` reads it.
 *
 * @example
 * ```ts
 * import { loadConfig } from 'bigchaindb';
 *
 * const { config, path, fileFound, unknownSettings } = await loadConfig({ path: 'node.json', requireFile: true });
 * console.log(path, fileFound, config.database.backend, unknownSettings);
 * ```
 */
export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const path = options.path ?? defaultConfigPath(env);
  let fromFile: Json | undefined;
  try {
    const text = await readFile(path, 'utf8');
    try {
      fromFile = JSON.parse(text) as Json;
    } catch (error) {
      const reason = messageOf(error);
      throw new ConfigurationError(`Failed to parse the JSON configuration from \`${path}\`, ${reason}`, {
        path,
      });
    }
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    if (options.requireFile === true) {
      const named = options.path === undefined ? ' (BIGCHAINDB_CONFIG_PATH)' : '';
      throw new ConfigFileNotFoundError(
        `no configuration file at ${path}${named}: run \`bigchaindb -c ${path} configure\` to write one`,
        { path },
      );
    }
  }
  const config = defaultConfig() as unknown as Record<string, Json>;
  const unknownSettings: string[] = [];
  if (fromFile !== undefined) {
    if (!isObject(fromFile)) {
      throw new ConfigurationError(`The configuration in \`${path}\` must be a JSON object`, { path });
    }
    merge(config, fromFile, [], `\`${path}\``, unknownSettings);
  }
  applyEnvironment(config, env, []);
  const settingNames = new Set(leafPaths(defaultConfig() as unknown as Json, []).map(environmentName));
  return {
    config: config as unknown as NodeConfig,
    path,
    fileFound: fromFile !== undefined,
    unknownSettings,
    unknownEnvironment: Object.keys(env)
      .filter((name) => name.startsWith('BIGCHAINDB_'))
      .filter((name) => !settingNames.has(name) && !ENVIRONMENT_NOT_SETTINGS.has(name))
      .sort(),
  };
}

/** The defaults with the BIGCHAINDB_* environment applied, no file: what `bigchaindb configure` starts from. */
export function environmentConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const config = defaultConfig() as unknown as Record<string, Json>;
  applyEnvironment(config, env, []);
  return config as unknown as NodeConfig;
}

/**
 * Sets one setting (a dotted path such as `database.port`) from text, coerced to the setting's type and
 * checked as an environment variable is; a bad value throws a ConfigurationError naming `origin`.
 */
export function setSettingFromText(config: NodeConfig, setting: string, raw: string, origin: string): void {
  const keys = setting.split('.');
  const last = keys.pop() as string;
  let section = config as unknown as Record<string, Json>;
  for (const key of keys) {
    const next = section[key];
    if (!isObject(next)) throw new ConfigurationError(`Unknown setting ${setting}`, { setting });
    section = next;
  }
  const current = section[last];
  section[last] = checked(setting, fromText(raw, current), current, origin);
}

/**
 * Recursive merge of a file's settings into the defaults, each leaf checked against the default's type;
 * the paths of values the defaults have no setting for are added to `unknown`.
 */
function merge(
  target: Record<string, Json>,
  source: Record<string, Json>,
  path: string[],
  origin: string,
  unknown: string[],
): void {
  for (const [key, value] of Object.entries(source)) {
    const keyPath = [...path, key];
    const current = target[key];
    if (isObject(current) && isObject(value)) merge(current, value, keyPath, origin, unknown);
    else {
      if (!Object.hasOwn(target, key)) unknown.push(...leafPaths(value, keyPath));
      target[key] = checked(keyPath.join('.'), value, current, origin);
    }
  }
}

/** `databse: { host, port }` → `databse.host`, `databse.port`: where each value of an unknown section is. */
function leafPaths(value: Json, path: string[]): string[] {
  if (!isObject(value) || Object.keys(value).length === 0) return [path.join('.')];
  return Object.entries(value).flatMap(([key, inner]) => leafPaths(inner, [...path, key]));
}

/** For every setting (leaf), BIGCHAINDB_<PATH> overrides it, coerced to the type of the setting. */
function applyEnvironment(config: Record<string, Json>, env: NodeJS.ProcessEnv, path: string[]): void {
  for (const [key, current] of Object.entries(config)) {
    const keyPath = [...path, key];
    if (isObject(current)) {
      applyEnvironment(current, env, keyPath);
      continue;
    }
    const name = environmentName(keyPath.join('.'));
    const raw = env[name];
    if (raw !== undefined) config[key] = checked(keyPath.join('.'), fromText(raw, current), current, name);
  }
}

/** `database.port` → `BIGCHAINDB_DATABASE_PORT` */
function environmentName(setting: string): string {
  return `BIGCHAINDB_${setting.replaceAll('.', '_').toUpperCase()}`;
}

/** Text from the environment as the setting's type: lists split on ':', numbers parsed. */
function fromText(raw: string, current: Json | undefined): Json {
  if (Array.isArray(current)) return raw === '' ? [] : raw.split(':');
  if (typeof current === 'number') {
    const parsed = raw.trim() === '' ? Number.NaN : Number(raw);
    return Number.isNaN(parsed) ? raw : parsed;
  }
  if (typeof current === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

function checked(setting: string, value: Json, current: Json | undefined, origin: string): Json {
  const fail = (expected: string): never => {
    throw new ConfigurationError(
      `Invalid value for ${setting} in ${origin}: expected ${expected}, got ${JSON.stringify(value)}`,
      { setting, origin },
    );
  };
  const nullable = NULLABLE_TYPES[setting];
  if (nullable !== undefined) {
    if (value === null) return value;
    if (nullable !== 'string') {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      const least = nullable === 'count' ? 0 : 1;
      return typeof n === 'number' && Number.isInteger(n) && n >= least
        ? n
        : fail(`${nullable === 'count' ? 'a whole number ≥ 0' : 'a positive whole number'} or null`);
    }
    return typeof value === 'string' ? value : fail('a string or null');
  }
  if (Array.isArray(current)) {
    return Array.isArray(value) && value.every((item) => typeof item === 'string')
      ? value
      : fail('a list of strings');
  }
  if (typeof current === 'number') {
    if (setting.endsWith('port')) {
      return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536
        ? value
        : fail('a port number (1-65535)');
    }
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fail('a number ≥ 0');
  }
  if (isObject(current)) return fail('an object of settings');
  if (typeof current === 'string') {
    if (typeof value !== 'string') return fail('a string');
    const choices = CHOICES[setting];
    return choices === undefined || choices.includes(value) ? value : fail(`one of ${choices.join(', ')}`);
  }
  // A setting the defaults do not know: kept as given (0.6 passed extra server settings through too).
  return value;
}

/**
 * Writes a configuration file (JSON, indented by 4 as 0.6 wrote it), readable by its owner only: it holds
 * the node's private key.
 */
/** A new `database.password` for the embedded server (configure, the first `start`): 32 random characters. */
export function generateDatabasePassword(): string {
  return randomBytes(24).toString('base64url');
}

export async function writeConfigFile(path: string, config: NodeConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(config, null, 4)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // `mode` applies only when the file is created
}
