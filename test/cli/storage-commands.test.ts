import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { startPostgres, type PostgresServer } from '../support/postgres.ts';
import { runCli } from '../support/processes.ts';

describe('bigchaindb storage commands', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  const node = generateKeyPair();

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-cli-'));
    env = { HOME: home };
    const config = {
      keypair: { public: node.publicKey, private: node.privateKey },
      database: { path: join(home, 'data') },
    };
    await writeFile(join(home, '.bigchaindb'), JSON.stringify(config));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('embedded: init, init again, set-shards, set-replicas (more than 1 refused), drop with and without confirmation', async () => {
    const dropMissing = await runCli(['-y', 'drop'], env);
    assert.equal(dropMissing.code, 1);
    assert.match(
      dropMissing.stderr,
      /^bigchaindb: Database `.*data` does not exist or is not initialized; run `bigchaindb init`\n$/,
    );

    const init = await runCli(['init'], env);
    assert.equal(init.code, 0, init.stderr);
    assert.match(
      init.stdout,
      /^Initialized the embedded database in .*\/data; genesis block [0-9a-f]{64}\.\n$/,
    );
    const again = await runCli(['init'], env);
    assert.equal(again.code, 0);
    assert.equal(
      again.stderr,
      'The database already exists.\nIf you wish to re-initialize it, first drop it.\n',
    );

    // The embedded server is a PostgreSQL server: set-shards works on it as on any other.
    const shards = await runCli(['set-shards', '3'], env);
    assert.equal(shards.code, 0, shards.stderr);
    assert.match(
      shards.stdout,
      /^Re-laid out .* as 3 hash partitions each in database `.*\/data` \(\d+ rows copied\)\.\n/,
    );
    const replicas = await runCli(['set-replicas', '1'], env);
    assert.equal(replicas.code, 0, replicas.stderr);
    assert.match(replicas.stdout, /^Commits no longer wait for standbys/);
    // No standby can reach a server that listens only on a socket: a commit would wait for ever.
    const refused = await runCli(['set-replicas', '3'], env);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^bigchaindb: set-replicas 3: the embedded backend's server listens only on a Unix socket in .*\/data, so no standby can stream from it\./,
    );
    const usage = await runCli(['set-shards', 'many'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: bigchaindb set-shards NUM_SHARDS/);

    const declined = await runCli(['drop'], env, { input: 'n\n' });
    assert.equal(declined.code, 0);
    assert.equal(
      declined.stdout,
      `Do you want to drop \`${join(home, 'data')}\` database? [y/n]: Drop aborted\n`,
    );
    const confirmed = await runCli(['drop'], env, { input: 'y\n' });
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.match(confirmed.stdout, /Dropped the embedded database in .*\/data\.\n$/);
  });

  test('embedded: backup to a file, restore it into an empty database, prune', async () => {
    const local = { ...env, BIGCHAINDB_DATABASE_PATH: join(home, 'backed-up') };
    const file = join(home, 'node.ndjson');
    assert.equal((await runCli(['init'], local)).code, 0);
    const saved = await runCli(['backup', file], local);
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal(saved.stderr, `Backed up 1 blocks and 0 votes to ${file}.\n`);
    const overwrite = await runCli(['backup', file], local);
    assert.equal(overwrite.code, 1);
    assert.match(overwrite.stderr, /^bigchaindb: cannot create .*node\.ndjson: EEXIST/);

    const occupied = await runCli(['restore', file], local);
    assert.equal(occupied.code, 1);
    assert.match(
      occupied.stderr,
      /is already initialized; restore only writes into an empty database: run `bigchaindb drop` first/,
    );
    assert.equal((await runCli(['-y', 'drop'], local)).code, 0);
    const restored = await runCli(['restore', file], local);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(
      restored.stdout,
      /^Restored 1 blocks and 0 votes into the embedded database in .*backed-up\.\n/,
    );
    assert.match(restored.stdout, /dropped 0 blocks after it and their 0 votes; the backlog is empty\.\n$/);
    const pruned = await runCli(['prune', '--rebuild'], local);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /^Re-derived 1 transaction, 1 output and 0 spend rows from 1 blocks\.\n/m);
    assert.match(
      pruned.stdout,
      /deleted 0 blocks after it, 0 votes on them and 0 backlog entries; rebuilt the indexes/,
    );
    const missing = await runCli(['restore', join(home, 'nope.ndjson')], local);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^bigchaindb: cannot read .*nope\.ndjson: ENOENT/);
  });

  test('errors: no keypair, malformed config file, bad environment value, unknown command', async () => {
    const bare = join(home, 'bare.json');
    await writeFile(bare, JSON.stringify({ database: { path: join(home, 'other') } }));
    const noKeys = await runCli(['-c', bare, 'init'], env);
    assert.equal(noKeys.code, 1);
    assert.equal(
      noKeys.stderr,
      `bigchaindb: no keypair in ${bare}: run \`bigchaindb -c ${bare} configure\` to write a configuration ` +
        'with a new keypair, or set keypair.public and keypair.private\n',
    );

    const broken = join(home, 'broken.json');
    await writeFile(broken, '{"keypair": ');
    const malformed = await runCli(['--config', broken, 'init'], env);
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, new RegExp(`Failed to parse the JSON configuration from \`${broken}\``));

    const badPort = await runCli(['init'], { ...env, BIGCHAINDB_DATABASE_PORT: 'eighty' });
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /Invalid value for database\.port in BIGCHAINDB_DATABASE_PORT/);

    const unknown = await runCli(['frobnicate'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^bigchaindb: unknown command "frobnicate"/);

    const unknownOption = await runCli(['--frobnicate', 'init'], env);
    assert.equal(unknownOption.code, 2);
    assert.match(unknownOption.stderr, /^bigchaindb: unknown option --frobnicate\n\nusage: bigchaindb /);
    const noPath = await runCli(['-c'], env);
    assert.equal(noPath.code, 2);
    assert.match(noPath.stderr, /^bigchaindb: -c needs a value \(CONFIG\)\n\nusage: bigchaindb \[-h\]/);
  });

  test('-h/--help print the help; -v/--version the version; both exit 0', async () => {
    const { version } = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    for (const args of [['-h'], ['--help'], ['help'], ['-y', '--help']]) {
      const help = await runCli(args, env);
      assert.equal(help.code, 0, args.join(' '));
      assert.match(
        help.stdout,
        /^usage: bigchaindb \[-h\] \[-v\] \[-c CONFIG\] \[-y\] <command> \[<args>\]\n\nControl your BigchainDB node\./,
      );
      for (const command of [
        'configure',
        'show-config',
        'export-my-pubkey',
        'init',
        'drop',
        'start',
        'load',
        'set-shards',
        'set-replicas',
      ])
        assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `${command} in the help`);
    }
    for (const flag of ['-v', '--version']) {
      const shown = await runCli([flag], env);
      assert.equal(shown.code, 0);
      assert.equal(shown.stdout, `bigchaindb ${version}\n`);
    }
  });

  describe('on a PostgreSQL server', () => {
    let server: PostgresServer;
    let pgEnv: NodeJS.ProcessEnv;
    before(async () => {
      server = await startPostgres();
      pgEnv = {
        ...env,
        BIGCHAINDB_DATABASE_BACKEND: 'postgresql',
        BIGCHAINDB_DATABASE_HOST: server.host,
        BIGCHAINDB_DATABASE_PORT: String(server.port),
        BIGCHAINDB_DATABASE_USER: server.user,
        BIGCHAINDB_DATABASE_NAME: 'federation',
      };
    });
    after(async () => {
      await server.stop();
    });

    test('init creates the database; set-shards and set-replicas say what they did and what is left', async () => {
      const init = await runCli(['init'], pgEnv);
      assert.equal(init.code, 0, init.stderr);
      assert.match(
        init.stdout,
        new RegExp(`^Initialized the PostgreSQL database \`federation\` on ${server.host}:${server.port}`),
      );
      const shards = await runCli(['set-shards', '3'], pgEnv);
      assert.equal(shards.code, 0, shards.stderr);
      assert.match(shards.stdout, /as 3 hash partitions each in database `federation`/);
      assert.match(shards.stdout, /^To do: The partitions all live on this PostgreSQL server/m);
      const replicas = await runCli(['set-replicas', '2'], pgEnv);
      assert.equal(replicas.code, 0, replicas.stderr);
      assert.match(replicas.stdout, /Every commit now waits until 1 standby has it/);
      assert.match(replicas.stdout, /^To do: Only 0 of the 1 standbys needed are connected/m);
      const single = await runCli(['set-replicas', '1'], pgEnv);
      assert.match(single.stdout, /^Commits no longer wait for standbys/);
      const stopped = await runCli(['set-shards', '2'], { ...pgEnv, BIGCHAINDB_DATABASE_PORT: '1' });
      assert.equal(stopped.code, 1);
      assert.match(stopped.stderr, /^bigchaindb: cannot connect to the PostgreSQL server/);
    });
  });
});
