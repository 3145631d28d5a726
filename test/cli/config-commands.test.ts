import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { publicKeyFromPrivate } from '../../src/protocol/crypto.ts';
import { runCli } from '../support/processes.ts';

interface WrittenConfig {
  server: { bind: string };
  database: { backend: string; host: string; port: number; name: string; path: string };
  keypair: { public: string | null; private: string | null };
  statsd: { host: string; port: number; rate: number };
}

describe('bigchaindb configure, show-config, export-my-pubkey', () => {
  const homes: string[] = [];
  let home: string;
  let env: NodeJS.ProcessEnv;
  let configPath: string;

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-configure-'));
    homes.push(home);
    env = { HOME: home };
    configPath = join(home, '.bigchaindb');
  });
  after(async () => {
    for (const dir of homes) await rm(dir, { recursive: true, force: true });
  });

  const readConfig = async (path = configPath): Promise<WrittenConfig> =>
    JSON.parse(await readFile(path, 'utf8')) as WrittenConfig;

  test('configure -y writes a config with a keypair; show-config masks the private key; export-my-pubkey prints the public key', async () => {
    const configured = await runCli(['-y', 'configure'], env);
    assert.equal(configured.code, 0, configured.stderr);
    assert.equal(configured.stdout, '');
    assert.equal(
      configured.stderr,
      `Generating keypair\nConfiguration written to ${configPath}\nReady to go!\n`,
    );
    assert.equal((await stat(configPath)).mode & 0o777, 0o600);
    const written = await readConfig();
    assert.equal(written.keypair.public, publicKeyFromPrivate(written.keypair.private as string));
    assert.equal(written.database.backend, 'embedded');
    assert.equal(written.database.path, join(home, '.bigchaindb-data'));

    const shown = await runCli(['show-config'], env);
    assert.equal(shown.code, 0, shown.stderr);
    const config = JSON.parse(shown.stdout) as WrittenConfig & Record<string, unknown>;
    assert.equal(config.keypair.private, 'x'.repeat(45));
    assert.equal(config.keypair.public, written.keypair.public);
    assert.deepEqual(Object.keys(config), Object.keys(config).sort());
    assert.match(shown.stdout, /^\{\n {4}"api_endpoint": /);

    const exported = await runCli(['export-my-pubkey'], env);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout, `${written.keypair.public}\n`);
  });

  test('configure with the prompts answered on stdin: postgresql backend, custom port stored as a number', async () => {
    const answers = ['0.0.0.0:9985', 'postgresql', 'db.example', '5433', '', '', '9125', '0.5'];
    const configured = await runCli(['configure'], env, { input: `${answers.join('\n')}\n` });
    assert.equal(configured.code, 0, configured.stderr);
    assert.equal(
      configured.stderr,
      'Generating keypair\n' +
        'API Server bind? (default `localhost:9984`): ' +
        'Database backend? (default `embedded`): ' +
        'Database host? (default `localhost`): ' +
        'Database port? (default `5432`): ' +
        'Database name? (default `bigchain`): ' +
        'Statsd host? (default `localhost`): ' +
        'Statsd port? (default `8125`): ' +
        'Statsd rate? (default `0.01`): ' +
        `Configuration written to ${configPath}\nReady to go!\n`,
    );
    const written = await readConfig();
    assert.equal(written.server.bind, '0.0.0.0:9985');
    assert.equal(written.database.backend, 'postgresql');
    assert.equal(written.database.host, 'db.example');
    assert.equal(written.database.port, 5433);
    assert.equal(written.database.name, 'bigchain');
    assert.deepEqual(written.statsd, { host: 'localhost', port: 9125, rate: 0.5 });
  });

  test('configure: the embedded backend asks for the path; stdin ending early keeps the other defaults', async () => {
    const dataPath = join(home, 'data');
    const configured = await runCli(['configure'], env, { input: `\n\n${dataPath}\n` });
    assert.equal(configured.code, 0, configured.stderr);
    assert.match(configured.stderr, /Database path\? \(default `.*\.bigchaindb-data`\): Statsd host\?/);
    const written = await readConfig();
    assert.equal(written.database.backend, 'embedded');
    assert.equal(written.database.path, dataPath);
    assert.deepEqual(written.statsd, { host: 'localhost', port: 8125, rate: 0.01 });
  });

  test('configure over an existing file: answering n keeps it, y overrides it', async () => {
    await writeFile(configPath, '{"keyring": []}\n');
    const declined = await runCli(['configure'], env, { input: 'n\n' });
    assert.equal(declined.code, 0, declined.stderr);
    assert.equal(
      declined.stderr,
      `Config file \`${configPath}\` exists, do you want to override it? (cannot be undone) [y/N]: ` +
        `Config file \`${configPath}\` left unchanged.\n`,
    );
    assert.equal(await readFile(configPath, 'utf8'), '{"keyring": []}\n');

    const noAnswer = await runCli(['configure'], env, { input: '' });
    assert.equal(noAnswer.code, 0, noAnswer.stderr);
    assert.equal(await readFile(configPath, 'utf8'), '{"keyring": []}\n');

    const accepted = await runCli(['configure'], env, { input: 'y\n' });
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stderr, /Ready to go!\n$/);
    assert.notEqual((await readConfig()).keypair.public, null);
  });

  test('configure -c - prints the config (sorted keys, indent 4) to stdout and writes no file', async () => {
    const printed = await runCli(['-y', '-c', '-', 'configure'], env);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stderr, 'Generating keypair\nConfiguration written to -\nReady to go!\n');
    const config = JSON.parse(printed.stdout) as WrittenConfig & Record<string, unknown>;
    assert.deepEqual(Object.keys(config), Object.keys(config).sort());
    assert.equal(config.keypair.public, publicKeyFromPrivate(config.keypair.private as string));
    assert.match(printed.stdout, /^\{\n {4}"api_endpoint": /);
    assert.equal(existsSync(configPath), false);
  });

  test('configure: a bad answer is refused with exit 1 and no file is written', async () => {
    const badPort = await runCli(['configure'], env, { input: '\npostgresql\n\nabc\n' });
    assert.equal(badPort.code, 1);
    assert.match(
      badPort.stderr,
      /bigchaindb: Invalid value for database\.port in the answer to `Database port\?`: expected a port number \(1-65535\), got "abc"\n$/,
    );
    assert.equal(existsSync(configPath), false);

    const badBackend = await runCli(['configure'], env, { input: '\nmongodb\n' });
    assert.equal(badBackend.code, 1);
    assert.match(
      badBackend.stderr,
      /database\.backend .*expected one of embedded, postgresql, got "mongodb"/,
    );
    assert.equal(existsSync(configPath), false);
  });

  test('export-my-pubkey without a keypair exits 1 with the message; show-config shows null keys', async () => {
    const exported = await runCli(['export-my-pubkey'], env);
    assert.equal(exported.code, 1);
    assert.equal(exported.stdout, '');
    assert.equal(
      exported.stderr,
      "bigchaindb: This node's public key wasn't set anywhere so it can't be exported\n",
    );
    const shown = await runCli(['show-config'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual((JSON.parse(shown.stdout) as WrittenConfig).keypair, { public: null, private: null });
  });

  test('the environment overrides the file in show-config and sets configure’s defaults', async () => {
    const fileConfig = { database: { backend: 'postgresql', port: 5433, name: 'fromfile' } };
    await writeFile(configPath, JSON.stringify(fileConfig));
    const envOverride = { ...env, BIGCHAINDB_DATABASE_PORT: '6543', BIGCHAINDB_STATSD_HOST: 'stats.example' };
    const shown = await runCli(['show-config'], envOverride);
    assert.equal(shown.code, 0, shown.stderr);
    const config = JSON.parse(shown.stdout) as WrittenConfig;
    assert.equal(config.database.backend, 'postgresql');
    assert.equal(config.database.name, 'fromfile');
    assert.equal(config.database.port, 6543);
    assert.equal(config.statsd.host, 'stats.example');

    const other = join(home, 'other.json');
    const configured = await runCli(['-c', other, 'configure'], envOverride, { input: '\npostgresql\n' });
    assert.equal(configured.code, 0, configured.stderr);
    assert.match(configured.stderr, /Database port\? \(default `6543`\)/);
    const written = await readConfig(other);
    assert.equal(written.database.port, 6543);
    assert.equal(written.database.name, 'bigchain');
    assert.equal(written.statsd.host, 'stats.example');
  });
});
