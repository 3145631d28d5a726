import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { atLevel, logRecord } from '../support/log-records.ts';
import { runCli } from '../support/processes.ts';

/** Every command that reads the configuration, with arguments it would run with. */
const CONFIG_READERS: string[][] = [
  ['show-config'],
  ['export-my-pubkey'],
  ['init'],
  ['drop', '-y'],
  ['set-shards', '2'],
  ['set-replicas', '2'],
  ['backup', 'out.ndjson'],
  ['restore', 'in.ndjson'],
  ['prune'],
  ['verify'],
  ['start'],
  ['load', '-c', '1'],
];

/** A start that should refuse at once but runs instead is stopped after this, and fails its test. */
const TIMEOUT_MS = 60_000;

/** stderr without the lines that are log events (start's log). */
function withoutLogEvents(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => logRecord(line) === undefined)
    .join('\n');
}

async function inPairs<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 2) await Promise.all(items.slice(i, i + 2).map(work));
}

describe('configuration safety', () => {
  const dirs: string[] = [];
  let home: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const node = generateKeyPair();
  const keypair = { public: node.publicKey, private: node.privateKey };

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-config-safety-'));
    dirs.push(home);
    work = join(home, 'work');
    await mkdir(work);
    await writeFile(join(work, 'in.ndjson'), '');
    env = { HOME: home, BIGCHAINDB_SERVER_BIND: '127.0.0.1:0' };
  });
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('-c PATH that does not exist is an error for every command but configure, and nothing is written', async () => {
    const typo = join(home, 'typo.json');
    await inPairs(CONFIG_READERS, async (args) => {
      const result = await runCli(['-c', typo, ...args], env, { cwd: work, timeoutMs: TIMEOUT_MS });
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '', args.join(' '));
      const message = `bigchaindb: no configuration file at ${typo}: run \`bigchaindb -c ${typo} configure\` to write one\n`;
      // start logs its version first: its log events are left out.
      const stderr = withoutLogEvents(result.stderr);
      assert.equal(stderr, message, args.join(' '));
    });
    // `-c typo.json start` wrote a new keypair there and started on ~/.bigchaindb-data under it.
    assert.deepEqual((await readdir(home)).sort(), ['work']);
    assert.deepEqual((await readdir(work)).sort(), ['in.ndjson'], 'no backup written');

    const configured = await runCli(['-y', '-c', typo, 'configure'], env, {
      cwd: work,
      timeoutMs: TIMEOUT_MS,
    });
    assert.equal(configured.code, 0, configured.stderr);
    assert.ok(existsSync(typo));
  });

  test('BIGCHAINDB_CONFIG_PATH naming a missing file is the same error; `-c -` is for configure only', async () => {
    const named = join(home, 'named.json');
    for (const args of [['start'], ['show-config']]) {
      const result = await runCli(
        args,
        { ...env, BIGCHAINDB_CONFIG_PATH: named },
        { cwd: work, timeoutMs: TIMEOUT_MS },
      );
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `(^|\\n)bigchaindb: no configuration file at ${named} \\(BIGCHAINDB_CONFIG_PATH\\): run \`bigchaindb -c ${named} configure\` to write one\\n$`,
        ),
      );
    }
    assert.deepEqual(await readdir(home), ['work']);

    const dash = await runCli(['-c', '-', 'show-config'], env, { cwd: work, timeoutMs: TIMEOUT_MS });
    assert.equal(dash.code, 2);
    assert.equal(
      dash.stderr,
      'bigchaindb: -c - (print the configuration to stdout) only applies to configure\n',
    );
  });

  test('show-config masks every secret: keypair.private and database.password', async () => {
    const path = join(home, 'node.json');
    await writeFile(path, JSON.stringify({ keypair, database: { user: 'bdb', password: 'hunter2' } }));
    const shown = await runCli(['-c', path, 'show-config'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.doesNotMatch(shown.stdout, /hunter2/);
    assert.ok(!shown.stdout.includes(node.privateKey));
    const config = JSON.parse(shown.stdout) as {
      keypair: { public: string; private: string };
      database: { user: string; password: string };
    };
    assert.equal(config.keypair.private, 'x'.repeat(45));
    assert.equal(config.keypair.public, node.publicKey);
    assert.equal(config.database.password, 'x'.repeat(45));
    assert.equal(config.database.user, 'bdb');

    const fromEnv = await runCli(['show-config'], { ...env, BIGCHAINDB_DATABASE_PASSWORD: 's3cret' });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.doesNotMatch(fromEnv.stdout, /s3cret/);
    const unset = JSON.parse(fromEnv.stdout) as {
      keypair: { private: null };
      database: { password: string };
    };
    assert.equal(unset.database.password, 'x'.repeat(45));
    assert.equal(unset.keypair.private, null, 'a secret that is not set shows as null');
  });

  test('unknown settings in the file: a warning naming each (nested ones by their path), not an error', async () => {
    const path = join(home, 'typos.json');
    await writeFile(
      path,
      JSON.stringify({
        keypair,
        databse: { host: 'db.example' },
        database: { hots: 'db.example', port: 5433 },
        block_timeot: 2,
      }),
    );
    const shown = await runCli(['-c', path, 'show-config'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(
      shown.stderr,
      `bigchaindb: warning: ${path} has settings this node does not know, ignored: databse.host, database.hots, block_timeot\n`,
    );
    assert.equal((JSON.parse(shown.stdout) as { database: { port: number } }).database.port, 5433);

    const exported = await runCli(['-c', path, 'export-my-pubkey'], env);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout, `${node.publicKey}\n`);
    assert.match(exported.stderr, /^bigchaindb: warning: .* databse\.host, database\.hots, block_timeot\n$/);
  });

  test('BIGCHAINDB_* variables that name no setting: a warning naming each, the others applied', async () => {
    const path = join(home, 'env-typos.json');
    await writeFile(path, JSON.stringify({ keypair }));
    const shown = await runCli(['-c', path, 'show-config'], {
      ...env,
      BIGCHAINDB_DATABSE_HOST: 'db.example',
      BIGCHAINDB_DATABASE_PORT: '5433',
      BIGCHAINDB_BLOCK_TIMEOT: '2',
      BIGCHAINDB_CONFIG_PATH: path,
    });
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(
      shown.stderr,
      'bigchaindb: warning: environment variables that name no setting, ignored: BIGCHAINDB_BLOCK_TIMEOT, ' +
        'BIGCHAINDB_DATABSE_HOST (`bigchaindb show-config` lists the settings; BIGCHAINDB_<SECTION>_<KEY> sets one)\n',
    );
    assert.equal((JSON.parse(shown.stdout) as { database: { port: number } }).database.port, 5433);
  });

  test('a file without a keypair: start and init say so and what to run, and write nothing', async () => {
    const path = join(home, 'keyless.json');
    const content = JSON.stringify({ database: { path: join(home, 'data') }, server_bind: 'x' });
    await writeFile(path, content);
    for (const command of ['start', 'init']) {
      const result = await runCli(['-c', path, command], env, { cwd: work, timeoutMs: TIMEOUT_MS });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `\\nbigchaindb: no keypair in ${path}: run \`bigchaindb -c ${path} configure\` to write a configuration ` +
            'with a new keypair, or set keypair.public and keypair.private\\n$',
        ),
      );
      // Today start said it "writes one with a new keypair when there is none", then refused.
      assert.doesNotMatch(result.stderr, /writes one/);
    }
    // start warned of the unknown setting in its log, as a WARN line.
    const start = await runCli(['-c', path, 'start'], env, { cwd: work, timeoutMs: TIMEOUT_MS });
    assert.deepEqual(
      atLevel(start.stderr.split('\n'), 'warn').map((event) => event.msg),
      [`${path} has settings this node does not know, ignored: server_bind`],
    );
    assert.equal(await readFile(path, 'utf8'), content, 'the file is left as it was');
    assert.equal(existsSync(join(home, 'data')), false, 'no database created');

    // The default path, without -c: the same, with `bigchaindb configure`; one half of a pair is named.
    await writeFile(join(home, '.bigchaindb'), JSON.stringify({ keypair: { public: node.publicKey } }));
    const half = await runCli(['start'], env, { cwd: work, timeoutMs: TIMEOUT_MS });
    assert.equal(half.code, 1, half.stderr);
    assert.match(
      half.stderr,
      new RegExp(
        `bigchaindb: no keypair in ${join(home, '.bigchaindb')} \\(keypair\\.private is not set\\): run \`bigchaindb configure\` to write`,
      ),
    );
  });

  // (start without any file still writes a first one: test/cli/start-command.test.ts.)
  test('init without -c and with no file at the default path: says there is no file', async () => {
    const init = await runCli(['init'], env, { cwd: work, timeoutMs: TIMEOUT_MS });
    assert.equal(init.code, 1);
    assert.match(
      init.stderr,
      new RegExp(
        `^bigchaindb: no keypair in the configuration \\(there is no file at ${join(home, '.bigchaindb')}\\): run \`bigchaindb configure\``,
      ),
    );
  });
});
