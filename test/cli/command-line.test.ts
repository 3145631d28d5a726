import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { runCli, type ProcessResult } from '../support/processes.ts';

/** Every command of `bigchaindb --help`. */
const COMMANDS = [
  'init',
  'drop',
  'set-shards',
  'set-replicas',
  'backup',
  'restore',
  'prune',
  'verify',
  'start',
  'load',
  'configure',
  'show-config',
  'export-my-pubkey',
  'help',
];

const USAGE_LINE = /^usage: bigchaindb \[-h\] \[-v\] \[-c CONFIG\] \[-y\] <command> \[<args>\]\n/;

/** Two at a time: the machine's cores are shared. */
async function inPairs<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 2) await Promise.all(items.slice(i, i + 2).map(work));
}

/** A usage error: exit 2, nothing on stdout, the reason then the command's usage on stderr. */
function assertUsageError(result: ProcessResult, reason: string, usage: string): void {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, '');
  const command = /^usage: bigchaindb (\S+)/.exec(usage)?.[1];
  assert.equal(
    result.stderr,
    `bigchaindb: ${reason}\n\n${usage}\n(\`bigchaindb ${command} --help\` describes its arguments and options)\n`,
  );
}

describe('the bigchaindb command line', () => {
  let home: string;
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-cli-line-'));
    work = join(home, 'work');
    await mkdir(work);
    env = { HOME: home };
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('`<command> -h` and `<command> --help` for every command: its help on stdout, exit 0, nothing done', async () => {
    const helps = new Map<string, string>();
    await inPairs(COMMANDS, async (command) => {
      const shown = await runCli(['help', command], env, { cwd: work });
      assert.equal(shown.code, 0, shown.stderr);
      helps.set(command, shown.stdout);
    });
    const lines = COMMANDS.flatMap((command) => [
      [command, '-h'],
      [command, '--help'],
    ]);
    await inPairs(lines, async (args) => {
      const [command] = args as [string];
      const result = await runCli(args, env, { cwd: work });
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, '', args.join(' '));
      assert.match(result.stdout, new RegExp(`^usage: bigchaindb ${command}\\b`), args.join(' '));
      assert.match(result.stdout, /\nglobal options:\n {2}-h, --help /);
      assert.equal(result.stdout, helps.get(command), `${args.join(' ')} is \`help ${command}\``);
    });
    // No backup to a file named --help, no configuration written, no database created or touched.
    assert.deepEqual(await readdir(work), []);
    assert.deepEqual(await readdir(home), ['work']);
  });

  test('each command’s help names its arguments and options', async () => {
    const cases: Array<[string[], RegExp[]]> = [
      [
        ['backup', '-h'],
        [/^usage: bigchaindb backup FILE\n/, /^ {2}FILE {20}the file to create/m],
      ],
      [['restore', '-h'], [/^usage: bigchaindb restore FILE\n/]],
      [['set-shards', '-h'], [/^usage: bigchaindb set-shards NUM_SHARDS\n/]],
      [
        ['prune', '-h'],
        [/^usage: bigchaindb prune \[--rebuild\]\n/, /^ {2}--rebuild {15}first re-derive/m],
      ],
      [
        ['load', '-h'],
        [
          /^usage: bigchaindb load \[-m\|--multiprocess \[N\]\] \[-c\|--count N\]\n/,
          // After load, -c is its count: the configuration is --config there.
          /^ {2}--config CONFIG {9}the configuration file/m,
        ],
      ],
      [
        ['start', '-h'],
        [
          /^usage: bigchaindb start \[--experimental-start-postgresql\] \[--accept-federation-change\]\n/,
          /--experimental-start-rethinkdb/,
        ],
      ],
      [['init', '-h'], [/^usage: bigchaindb init \[--accept-federation-change\]\n/]],
      [['help', 'help'], [/^usage: bigchaindb help \[COMMAND\]\n/]],
    ];
    await inPairs(cases, async ([args, patterns]) => {
      const { code, stdout } = await runCli(args, env, { cwd: work });
      assert.equal(code, 0);
      for (const pattern of patterns) assert.match(stdout, pattern, args.join(' '));
    });
  });

  test('`help`, `-h` and `--help` print the same program help; `help COMMAND` of a command that is not one: exit 2', async () => {
    const outputs: string[] = [];
    for (const args of [['help'], ['-h'], ['--help'], ['-c', 'nowhere.json', '--help']]) {
      const result = await runCli(args, env, { cwd: work });
      assert.equal(result.code, 0, args.join(' '));
      assert.match(result.stdout, USAGE_LINE);
      outputs.push(result.stdout);
    }
    assert.equal(new Set(outputs).size, 1);
    assert.match(outputs[0]!, /^ {2}help {14}Show this help, or the help of COMMAND$/m);
    assert.match(outputs[0]!, /Run `bigchaindb help COMMAND` or `bigchaindb COMMAND --help`/);

    const unknown = await runCli(['help', 'frobnicate'], env, { cwd: work });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^bigchaindb: unknown command "frobnicate"\n\nusage: bigchaindb \[-h\]/);
  });

  test('bare `bigchaindb`: the program help on stderr, exit 2', async () => {
    for (const args of [[], ['-y'], ['-c', join(home, 'x.json')]]) {
      const result = await runCli(args, env, { cwd: work });
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^bigchaindb: a command is required\n\nusage: bigchaindb \[-h\] \[-v\]/);
      assert.match(result.stderr, /^ {2}export-my-pubkey {2}Export this node's public key$/m);
    }
  });

  test('global options before or after the command, as --opt value, --opt=value, -o value or -ovalue', async () => {
    const first = generateKeyPair();
    const second = generateKeyPair();
    const file = (key: typeof first) => ({ keypair: { public: key.publicKey, private: key.privateKey } });
    const firstPath = join(home, 'first.json');
    const secondPath = join(home, 'second.json');
    await writeFile(firstPath, JSON.stringify(file(first)));
    await writeFile(secondPath, JSON.stringify(file(second)));
    const lines = [
      ['-c', firstPath, 'export-my-pubkey'],
      ['export-my-pubkey', '-c', firstPath],
      ['export-my-pubkey', `--config=${firstPath}`],
      [`--config=${firstPath}`, 'export-my-pubkey'],
      ['export-my-pubkey', '--config', firstPath],
      ['export-my-pubkey', `-c${firstPath}`],
      ['-y', 'export-my-pubkey', '--yes-please', '-c', firstPath],
      // The last one wins.
      ['-c', secondPath, 'export-my-pubkey', '-c', firstPath],
    ];
    await inPairs(lines, async (args) => {
      const result = await runCli(args, env, { cwd: work });
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, `${first.publicKey}\n`, args.join(' '));
    });

    // -v after a command: the version, and the command does not run (no database is created).
    const version = await runCli(['-c', firstPath, 'init', '-v'], env, { cwd: work });
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^bigchaindb \d+\.\d+\.\d+\n$/);
    assert.deepEqual((await readdir(home)).sort(), ['first.json', 'second.json', 'work']);

    // -y after the command: drop asks nothing (and finds no database).
    const drop = await runCli(['drop', '-y', '--config', firstPath], env, { cwd: work });
    assert.equal(drop.code, 1);
    assert.equal(drop.stdout, '');
    assert.match(drop.stderr, /^bigchaindb: Database `.*\.bigchaindb-data` does not exist/);
  });

  test('a command’s own options as --opt=value too: load --count=2 --multiprocess=1', async () => {
    const port = await closedPort();
    const apiEndpoint = `http://127.0.0.1:${port}/api/v1`;
    const run = await runCli(['load', '--count=2', '--multiprocess=1'], {
      ...env,
      BIGCHAINDB_API_ENDPOINT: apiEndpoint,
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^Sending 2 CREATE transactions to .* from 1 concurrent sender\n/);
    assert.match(run.stdout, /^2 transactions sent in [\d.]+ s: 0 accepted/);
  });

  test('unknown options, missing values and arguments: exit 2 with the command’s usage on stderr', async () => {
    const cases: Array<[string[], string, string]> = [
      [['init', '--bogus'], 'unknown option --bogus', 'usage: bigchaindb init [--accept-federation-change]'],
      [['--bogus', 'init'], 'unknown option --bogus', 'usage: bigchaindb init [--accept-federation-change]'],
      [['backup', '--bogus=1', 'out.ndjson'], 'unknown option --bogus', 'usage: bigchaindb backup FILE'],
      [['backup', '-x', 'out.ndjson'], 'unknown option -x', 'usage: bigchaindb backup FILE'],
      [['show-config', '--config'], '--config needs a value (CONFIG)', 'usage: bigchaindb show-config'],
      [['show-config', '-c'], '-c needs a value (CONFIG)', 'usage: bigchaindb show-config'],
      [
        ['load', '--count'],
        '--count needs a value (N)',
        'usage: bigchaindb load [-m|--multiprocess [N]] [-c|--count N]',
      ],
      [
        ['load', '-m', '0'],
        '-m must be a whole number ≥ 1, got "0"',
        'usage: bigchaindb load [-m|--multiprocess [N]] [-c|--count N]',
      ],
      [['backup'], 'backup needs FILE', 'usage: bigchaindb backup FILE'],
      [['backup', 'a', 'b'], 'unexpected argument "b"', 'usage: bigchaindb backup FILE'],
      [
        ['set-shards', '0'],
        'NUM_SHARDS must be a whole number ≥ 1, got "0"',
        'usage: bigchaindb set-shards NUM_SHARDS',
      ],
      [['prune', '--rebuild=yes'], '--rebuild takes no value', 'usage: bigchaindb prune [--rebuild]'],
      [
        ['init', '--rebuild'],
        '--rebuild only applies to prune',
        'usage: bigchaindb init [--accept-federation-change]',
      ],
      [['show-config', 'extra'], 'show-config takes no arguments', 'usage: bigchaindb show-config'],
    ];
    await inPairs(cases, async ([args, reason, usage]) => {
      const result = await runCli(args, env, { cwd: work });
      assertUsageError(result, reason, usage);
    });
    assert.deepEqual(await readdir(work), [], 'no backup file written');

    const before = await runCli(['--frobnicate'], env, { cwd: work });
    assert.equal(before.code, 2);
    assert.match(before.stderr, /^bigchaindb: unknown option --frobnicate\n\nusage: bigchaindb \[-h\]/);
  });

  test('`--` ends the options: the next word is an argument even when it starts with -', async () => {
    const result = await runCli(['restore', '--', '--help'], env, { cwd: work });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^bigchaindb: cannot read --help: ENOENT/);
  });

  test('--experimental-start-rethinkdb, before or after start, is taken as --experimental-start-postgresql with a notice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bigchain-cli-rethinkdb-'));
    try {
      // A cluster of another PostgreSQL version: start with the flag refuses it before starting anything,
      // which shows the flag took effect without running a server.
      await mkdir(join(dir, '.bigchaindb-data', 'pgdata'), { recursive: true, mode: 0o700 });
      await writeFile(join(dir, '.bigchaindb-data', 'pgdata', 'PG_VERSION'), '15\n');
      // The configured server: nothing listens there, and the flag makes the node not look.
      const pgEnv = {
        HOME: dir,
        BIGCHAINDB_DATABASE_BACKEND: 'postgresql',
        BIGCHAINDB_DATABASE_PORT: String(await closedPort()),
      };
      for (const args of [
        ['start', '--experimental-start-rethinkdb'],
        ['--experimental-start-rethinkdb', 'start'],
      ]) {
        const result = await runCli(args, pgEnv, { cwd: dir, timeoutMs: 60_000 });
        assert.equal(result.code, 1, result.stderr);
        assert.match(
          result.stderr,
          /^bigchaindb: --experimental-start-rethinkdb is taken as --experimental-start-postgresql: this node keeps its chain in PostgreSQL, not RethinkDB\n/,
        );
        assert.match(result.stderr, /was made by PostgreSQL 15; this node runs PostgreSQL 18/);
      }
      const elsewhere = await runCli(['--experimental-start-rethinkdb', 'init'], pgEnv, { cwd: dir });
      assert.equal(elsewhere.code, 2);
      assert.match(elsewhere.stderr, /^bigchaindb: --experimental-start-rethinkdb only applies to start\n/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
