import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ConfigFileNotFoundError,
  configFileNamed,
  ConfigurationError,
  defaultConfig,
  defaultConfigPath,
  KeypairNotFoundException,
  loadConfig,
  maskSecrets,
  nodeKeyPair,
} from '../../src/config/index.ts';
import { generateKeyPair } from '../../src/protocol/crypto.ts';

describe('configuration: defaults < file < environment', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bigchain-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, content: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  test('no file: the defaults, with the embedded backend under the home directory', async () => {
    const loaded = await loadConfig({ path: join(dir, 'missing'), env: {} });
    assert.equal(loaded.fileFound, false);
    assert.deepEqual(loaded.config, defaultConfig());
    assert.equal(loaded.config.database.backend, 'embedded');
    assert.equal(loaded.config.database.path, join(homedir(), '.bigchaindb-data'));
    assert.equal(loaded.config.backlog_reassign_delay, 30);
    assert.equal(defaultConfigPath({}), join(homedir(), '.bigchaindb'));
    assert.equal(defaultConfigPath({ BIGCHAINDB_CONFIG_PATH: '/etc/bdb.json' }), '/etc/bdb.json');
  });

  test('the seed’s vector: host from the file, name, port and keyring from the environment, coerced', async () => {
    const path = await file('both.json', JSON.stringify({ database: { host: 'test-host' } }));
    const { config } = await loadConfig({
      path,
      env: {
        BIGCHAINDB_DATABASE_NAME: 'test-dbname',
        BIGCHAINDB_DATABASE_PORT: '4242',
        BIGCHAINDB_KEYRING: 'pubkey_0:pubkey_1:pubkey_2',
      },
    });
    const expected = defaultConfig();
    expected.database = { ...expected.database, host: 'test-host', port: 4242, name: 'test-dbname' };
    expected.keyring = ['pubkey_0', 'pubkey_1', 'pubkey_2'];
    assert.deepEqual(config, expected);
  });

  test('the environment wins over the file; new settings have variables too', async () => {
    const path = await file(
      'backend.json',
      JSON.stringify({ database: { backend: 'postgresql', port: 5433 } }),
    );
    const { config } = await loadConfig({
      path,
      env: {
        BIGCHAINDB_DATABASE_PORT: '6000',
        BIGCHAINDB_DATABASE_PATH: '/data/bdb',
        BIGCHAINDB_BACKLOG_REASSIGN_DELAY: '5',
        BIGCHAINDB_SERVER_WORKERS: '4',
        BIGCHAINDB_DATABASE_PASSWORD: 'secret',
      },
    });
    assert.equal(config.database.backend, 'postgresql');
    assert.equal(config.database.port, 6000);
    assert.equal(config.database.path, '/data/bdb');
    assert.equal(config.database.password, 'secret');
    assert.equal(config.backlog_reassign_delay, 5);
    assert.equal(config.server.workers, 4);
  });

  test('every BIGCHAINDB_* variable the seed lists, and one per new setting, sets its setting', async () => {
    const { config } = await loadConfig({
      path: '/nonexistent/bigchaindb.json',
      env: {
        BIGCHAINDB_SERVER_BIND: '0.0.0.0:9000',
        BIGCHAINDB_SERVER_WORKERS: '3',
        BIGCHAINDB_SERVER_THREADS: '5',
        BIGCHAINDB_DATABASE_HOST: 'db',
        BIGCHAINDB_DATABASE_PORT: '5433',
        BIGCHAINDB_DATABASE_NAME: 'chain',
        BIGCHAINDB_KEYPAIR_PUBLIC: 'pub',
        BIGCHAINDB_KEYPAIR_PRIVATE: 'priv',
        BIGCHAINDB_KEYRING: 'a:b:c',
        BIGCHAINDB_STATSD_HOST: 'stats',
        BIGCHAINDB_STATSD_PORT: '8126',
        BIGCHAINDB_STATSD_RATE: '0.5',
        BIGCHAINDB_API_ENDPOINT: 'http://api.example/api/v1',
        BIGCHAINDB_CONSENSUS_PLUGIN: 'my-plugin',
        BIGCHAINDB_DATABASE_BACKEND: 'postgresql',
        BIGCHAINDB_DATABASE_PATH: '/data',
        BIGCHAINDB_DATABASE_USER: 'bdb',
        BIGCHAINDB_DATABASE_PASSWORD: 'pw',
        BIGCHAINDB_BACKLOG_REASSIGN_DELAY: '12',
        BIGCHAINDB_BLOCK_TIMEOUT: '0.5',
        BIGCHAINDB_MAX_CLOCK_SKEW: '60',
        BIGCHAINDB_LOG_LEVEL: 'debug',
      },
    });
    assert.deepEqual(config, {
      server: { bind: '0.0.0.0:9000', workers: 3, threads: 5 },
      database: {
        backend: 'postgresql',
        path: '/data',
        host: 'db',
        port: 5433,
        name: 'chain',
        user: 'bdb',
        password: 'pw',
      },
      keypair: { public: 'pub', private: 'priv' },
      keyring: ['a', 'b', 'c'],
      statsd: { host: 'stats', port: 8126, rate: 0.5 },
      api_endpoint: 'http://api.example/api/v1',
      consensus_plugin: 'my-plugin',
      backlog_reassign_delay: 12,
      block_timeout: 0.5,
      max_clock_skew: 60,
      log: { level: 'debug' },
    });
  });

  test('malformed JSON and bad values are errors naming the file or variable and the problem', async () => {
    const broken = await file('broken.json', '{"database": {');
    await assert.rejects(loadConfig({ path: broken, env: {} }), (error: Error) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, new RegExp(`^Failed to parse the JSON configuration from \`${broken}\`, `));
      return true;
    });
    await assert.rejects(
      loadConfig({ path: await file('array.json', '[]'), env: {} }),
      /must be a JSON object/,
    );
    await assert.rejects(
      loadConfig({ path: await file('port.json', '{"database": {"port": "x"}}'), env: {} }),
      /Invalid value for database\.port in `.*port\.json`: expected a port number \(1-65535\), got "x"/,
    );
    await assert.rejects(
      loadConfig({ path: join(dir, 'none'), env: { BIGCHAINDB_DATABASE_PORT: 'abc' } }),
      /Invalid value for database\.port in BIGCHAINDB_DATABASE_PORT: expected a port number \(1-65535\), got "abc"/,
    );
    await assert.rejects(
      loadConfig({ path: join(dir, 'none'), env: { BIGCHAINDB_DATABASE_BACKEND: 'rethinkdb' } }),
      /database\.backend in BIGCHAINDB_DATABASE_BACKEND: expected one of embedded, postgresql, got "rethinkdb"/,
    );
    await assert.rejects(
      loadConfig({ path: await file('keyring.json', '{"keyring": "abc"}'), env: {} }),
      /keyring .*expected a list of strings/,
    );
  });

  test('a section given as something else than an object is refused', async () => {
    await assert.rejects(
      loadConfig({ path: await file('section.json', '{"database": "db.example"}'), env: {} }),
      /Invalid value for database in `.*section\.json`: expected an object of settings, got "db\.example"/,
    );
  });

  test('unknown settings in the file are listed by their paths (nested ones too), kept, and not an error', async () => {
    const path = await file(
      'unknown.json',
      JSON.stringify({
        databse: { host: 'h', port: 1 },
        database: { hots: 'h', port: 5433 },
        server: { bind: 'localhost:1', loglevel: 'debug' },
        extra: {},
      }),
    );
    const loaded = await loadConfig({ path, env: {} });
    assert.deepEqual(loaded.unknownSettings, [
      'databse.host',
      'databse.port',
      'database.hots',
      'server.loglevel',
      'extra',
    ]);
    assert.equal(loaded.config.database.port, 5433);
    const known = await loadConfig({ path: await file('known.json', '{"server": {"workers": 2}}'), env: {} });
    assert.deepEqual(known.unknownSettings, [], 'settings whose default is null are known');
    assert.deepEqual((await loadConfig({ path: join(dir, 'none'), env: {} })).unknownSettings, []);
  });

  test('requireFile: a missing file is an error naming it and the command that writes one', async () => {
    const missing = join(dir, 'typo.json');
    await assert.rejects(loadConfig({ path: missing, env: {}, requireFile: true }), (error: Error) => {
      assert.ok(error instanceof ConfigFileNotFoundError);
      assert.equal(
        error.message,
        `no configuration file at ${missing}: run \`bigchaindb -c ${missing} configure\` to write one`,
      );
      return true;
    });
    await assert.rejects(
      loadConfig({ env: { BIGCHAINDB_CONFIG_PATH: missing }, requireFile: true }),
      new RegExp(
        `^ConfigFileNotFoundError: no configuration file at ${missing} \\(BIGCHAINDB_CONFIG_PATH\\)`,
      ),
    );
    const present = await file('present.json', '{}');
    assert.equal((await loadConfig({ path: present, env: {}, requireFile: true })).fileFound, true);
    assert.equal(configFileNamed(undefined, {}), false);
    assert.equal(configFileNamed('x.json', {}), true);
    assert.equal(configFileNamed(undefined, { BIGCHAINDB_CONFIG_PATH: 'x.json' }), true);
  });

  test('maskSecrets: keypair.private and database.password masked when set; the rest as it was', () => {
    const config = defaultConfig();
    const key = generateKeyPair();
    config.keypair = { public: key.publicKey, private: key.privateKey };
    config.database = { ...config.database, user: 'bdb', password: 'hunter2' };
    const masked = maskSecrets(config);
    assert.equal(masked.keypair.private, 'x'.repeat(45));
    assert.equal(masked.database.password, 'x'.repeat(45));
    assert.equal(masked.keypair.public, key.publicKey);
    assert.equal(masked.database.user, 'bdb');
    assert.equal(config.database.password, 'hunter2', 'the configuration itself is left alone');
    const unset = maskSecrets(defaultConfig());
    assert.equal(unset.keypair.private, null);
    assert.equal(unset.database.password, null);
  });

  test('nodeKeyPair: no keypair names where it looked and what to run', () => {
    const config = defaultConfig();
    assert.throws(
      () => nodeKeyPair(config),
      (error: Error) => {
        assert.ok(error instanceof KeypairNotFoundException);
        assert.equal(
          error.message,
          'no keypair in the configuration: run `bigchaindb configure` to write a configuration with a new ' +
            'keypair, or set keypair.public and keypair.private',
        );
        return true;
      },
    );
    config.keypair.public = generateKeyPair().publicKey;
    assert.throws(
      () =>
        nodeKeyPair(config, { where: '/etc/node.json', configure: 'bigchaindb -c /etc/node.json configure' }),
      /^KeypairNotFoundException: no keypair in \/etc\/node\.json \(keypair\.private is not set\): run `bigchaindb -c \/etc\/node\.json configure`/,
    );
  });
});
