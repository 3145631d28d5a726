import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  generateDatabasePassword,
  defaultConfigPath,
  environmentConfig,
  maskSecrets,
  setSettingFromText,
  writeConfigFile,
  type NodeConfig,
} from '../config/config.ts';
import { generateKeyPair } from '../protocol/crypto.ts';
import { commandConfig, type Context } from './context.ts';
import { CliError } from './errors.ts';

/** Answers read line by line; undefined once the input has ended. */
interface LineReader {
  next(): Promise<string | undefined>;
  close(): void;
}

function lineReader(input: Readable): LineReader {
  const rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
  const lines = rl[Symbol.asyncIterator]();
  let ended = false;
  return {
    async next() {
      if (ended) return undefined;
      const line = await lines.next();
      if (line.done === true) {
        ended = true;
        return undefined;
      }
      return line.value;
    },
    close() {
      rl.close();
    },
  };
}

/** Prompts on stderr, as 0.6 did; stdin is only read when a question is asked. */
class Prompter {
  private reader: LineReader | undefined;

  constructor(private readonly context: Context) {}

  /** The trimmed answer; '' when the input has ended. */
  async ask(question: string): Promise<string> {
    this.context.io.stderr.write(question);
    this.reader ??= lineReader(this.context.io.stdin);
    return ((await this.reader.next()) ?? '').trim();
  }

  close(): void {
    this.reader?.close();
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The JSON value with every object's keys sorted (Python's `sort_keys=True`). */
function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys(value[key] as Json)]),
    );
  }
  return value;
}

function sortedJson(config: NodeConfig): string {
  return `${JSON.stringify(sortKeys(config as unknown as Json), null, 4)}\n`;
}

function settingValue(config: NodeConfig, setting: string): string {
  let value: unknown = config;
  for (const key of setting.split('.')) value = (value as Record<string, unknown>)[key];
  return String(value);
}

/**
 * `bigchaindb configure`: writes a configuration (defaults and environment, the answers to the prompts
 * unless `-y`) with a new keypair to `-c` or the default path; `-c -` prints it instead.
 */
export async function runConfigure(context: Context): Promise<void> {
  const { io, options } = context;
  const path = options.configPath ?? defaultConfigPath(io.env);
  const prompter = new Prompter(context);
  try {
    if (path !== '-' && existsSync(path) && !options.yes) {
      const answer = await prompter.ask(
        `Config file \`${path}\` exists, do you want to override it? (cannot be undone) [y/N]: `,
      );
      if (answer !== 'y') {
        io.stderr.write(`Config file \`${path}\` left unchanged.\n`);
        return;
      }
    }
    const conf = environmentConfig(io.env);
    io.stderr.write('Generating keypair\n');
    const keyPair = generateKeyPair();
    conf.keypair = { public: keyPair.publicKey, private: keyPair.privateKey };

    if (!options.yes) {
      const ask = async (setting: string, label: string): Promise<void> => {
        const answer = await prompter.ask(`${label} (default \`${settingValue(conf, setting)}\`): `);
        if (answer !== '') setSettingFromText(conf, setting, answer, `the answer to \`${label}\``);
      };
      await ask('server.bind', 'API Server bind?');
      await ask('database.backend', 'Database backend?');
      if (conf.database.backend === 'postgresql') {
        await ask('database.host', 'Database host?');
        await ask('database.port', 'Database port?');
        await ask('database.name', 'Database name?');
      } else {
        await ask('database.path', 'Database path?');
      }
      await ask('statsd.host', 'Statsd host?');
      await ask('statsd.port', 'Statsd port?');
      await ask('statsd.rate', 'Statsd rate?');
    }

    // The embedded server is made with this password the first time it starts.
    if (conf.database.backend === 'embedded') conf.database.password ??= generateDatabasePassword();
    if (path === '-') io.stdout.write(sortedJson(conf));
    else await writeConfigFile(path, conf);
    io.stderr.write(`Configuration written to ${path}\nReady to go!\n`);
  } finally {
    prompter.close();
  }
}

/** `bigchaindb show-config`: the effective configuration, sorted, with every secret masked. */
export async function runShowConfig(context: Context): Promise<void> {
  const conf = (await commandConfig(context)).config;
  context.io.stdout.write(sortedJson(maskSecrets(conf)));
}

/** `bigchaindb export-my-pubkey`: this node's public key, for the other nodes' keyrings. */
export async function runExportMyPubkey(context: Context): Promise<void> {
  const conf = (await commandConfig(context)).config;
  if (conf.keypair.public === null) {
    throw new CliError("This node's public key wasn't set anywhere so it can't be exported");
  }
  context.io.stdout.write(`${conf.keypair.public}\n`);
}
