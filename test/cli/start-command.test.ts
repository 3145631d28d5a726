import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempClient } from '../../src/driver/index.ts';
import { runCli } from '../support/processes.ts';
import { startAndStop } from '../support/start-node.ts';
import { logRecord } from '../support/log-records.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

describe('bigchaindb start', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-start-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('on a fresh machine: writes a config with a new keypair, creates the embedded database, stops cleanly', async () => {
    const first = await startAndStop(home, 'SIGTERM');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /INFO  BigchainDB Version 0\.6\.0/);
    assert.match(first.stderr, /Generated a keypair; configuration written to .*\.bigchaindb/);
    assert.match(first.stderr, /Created the database and its genesis block/);
    assert.match(first.stderr, /SIGTERM: finishing the block in hand/);
    assert.match(first.stderr, /INFO  Stopped\n$/);
    const configPath = join(home, '.bigchaindb');
    const config = JSON.parse(await readFile(configPath, 'utf8')) as { keypair: { public: string } };
    assert.match(config.keypair.public, /^[1-9A-HJ-NP-Za-km-z]{43,44}$/);
    assert.equal(
      (await stat(configPath)).mode & 0o777,
      0o600,
      'the private key is readable by its owner only',
    );
    assert.ok((await stat(join(home, '.bigchaindb-data'))).isDirectory());

    const second = await startAndStop(home, 'SIGINT');
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /Generated a keypair|Created the database/, 'reuses both');
    assert.match(second.stderr, new RegExp(`node ${config.keypair.public} on the embedded database`));
  });

  test('server.workers on the embedded database: a warning, and the node process serves the API', async () => {
    const run = await startAndStop(home, 'SIGTERM', {
      env: { BIGCHAINDB_SERVER_WORKERS: '2', BIGCHAINDB_SERVER_THREADS: '4' },
      whileRunning: async ({ stderr }) => {
        const apiEndpoint = /Listening to client connections on: (\S+)/.exec(stderr())![1]!;
        await tempClient({ apiEndpoint }).create();
      },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /WARN  server\.workers needs the postgresql backend .*; the HTTP API runs in the node process/,
    );
    assert.match(run.stderr, /INFO  server\.threads has no effect/);
    // Each request at DEBUG; at INFO a summary (the last one when the API closes).
    assert.match(run.stderr, /DEBUG \[http\] POST \/api\/v1\/transactions\/ 201/);
    assert.match(run.stderr, /INFO  \[http\] 1 requests in the last 60 s: 201×1; p50 \d+ ms/);
  });

  test('logs JSON events when stderr is not a terminal, at the level log.level / BIGCHAINDB_LOG_LEVEL sets', async () => {
    const at = async (level: string) => {
      const port = await freePort();
      return runCli(
        ['start'],
        {
          HOME: home,
          BIGCHAINDB_SERVER_BIND: `127.0.0.1:${port}`,
          BIGCHAINDB_LOG_LEVEL: level,
        },
        {
          cwd: home,
          whileRunning: async ({ child }) => {
            const apiEndpoint = `http://127.0.0.1:${port}/api/v1`;
            await waitFor(
              'the API to answer',
              async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.ok,
            );
            await tempClient({ apiEndpoint }).create();
            child.kill('SIGTERM');
          },
        },
      );
    };
    const events = (output: string) =>
      output
        .trimEnd()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const record = logRecord(line);
          assert.ok(record, `not a JSON log event: ${line}`);
          return record;
        });
    const info = events((await at('info')).stderr);
    assert.ok(info.some((record) => record.msg.startsWith('Starting BigchainDB main process')));
    assert.deepEqual(
      info.filter((record) => record.level === 'debug'),
      [],
      'no DEBUG event at info',
    );
    const summary = info.find((record) => record.name === 'http');
    assert.equal(summary?.requests, 2, 'the GET and the POST, summed up in one event');
    const warn = events((await at('warn')).stderr);
    assert.deepEqual(
      warn.filter((record) => record.level === 'info' || record.level === 'debug'),
      [],
    );
  });

  test('a broken configuration is reported with exit 1, and nothing starts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bigchain-start-bad-'));
    await writeFile(join(dir, '.bigchaindb'), '{"keypair": ');
    const { code, stderr } = await runCli(['start'], { HOME: dir });
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 1);
    assert.match(stderr, /bigchaindb: Failed to parse the JSON configuration from `.*\.bigchaindb`/);
  });
});

describe('bigchaindb start --experimental-start-postgresql', () => {
  test('runs a local PostgreSQL server for the node, keeps its data, and stops it with the node', async () => {
    const home = await mkdtemp(join(tmpdir(), 'bigchain-start-pg-'));
    // As root the server runs as the postgres OS user, which must reach the data dir in HOME.
    await chmod(home, 0o755);
    try {
      const port = String(await freePort());
      const env = { BIGCHAINDB_DATABASE_PORT: port };
      const args = ['--experimental-start-postgresql'];
      const first = await startAndStop(home, 'SIGTERM', { args, env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stderr,
        new RegExp(`PostgreSQL created and started in .*\\.bigchaindb-postgresql on port ${port}`),
      );
      assert.match(first.stderr, new RegExp(`on the PostgreSQL database \`bigchain\` on localhost:${port}`));
      assert.match(first.stderr, /INFO  PostgreSQL stopped\n$/);
      assert.equal(
        existsSync(join(home, '.bigchaindb-postgresql', 'data', 'postmaster.pid')),
        false,
        'the server is down',
      );

      // The seed's placement: the flag before the command.
      const second = await startAndStop(home, 'SIGINT', { globalArgs: args, env });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, new RegExp(`PostgreSQL started in .* on port ${port}`));
      assert.doesNotMatch(second.stderr, /Created the database/, 'the chain was kept');

      // A start killed outright leaves its server running: the next start uses it, and stops it.
      const killed = await startAndStop(home, 'SIGKILL', { args, env });
      assert.equal(killed.code, null);
      assert.ok(existsSync(join(home, '.bigchaindb-postgresql', 'data', 'postmaster.pid')), 'left running');
      const third = await startAndStop(home, 'SIGTERM', { args, env });
      assert.equal(third.code, 0, third.stderr);
      assert.match(
        third.stderr,
        new RegExp(
          `PostgreSQL already runs in .* on port ${port} \\(left by a start that was killed\\); using it`,
        ),
      );
      assert.match(third.stderr, /INFO  PostgreSQL stopped\n$/);
      assert.equal(existsSync(join(home, '.bigchaindb-postgresql', 'data', 'postmaster.pid')), false);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test('a cluster made by another PostgreSQL major version is refused with what to do', async () => {
    const home = await mkdtemp(join(tmpdir(), 'bigchain-start-pg-old-'));
    try {
      // What an earlier release, which ran the machine's PostgreSQL 15, left behind.
      await mkdir(join(home, '.bigchaindb-postgresql', 'data'), { recursive: true });
      await writeFile(join(home, '.bigchaindb-postgresql', 'data', 'PG_VERSION'), '15\n');
      const env = { HOME: home, BIGCHAINDB_DATABASE_PORT: String(await freePort()) };
      const { code, stderr } = await runCli(['start', '--experimental-start-postgresql'], env);
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /the PostgreSQL cluster in .*\.bigchaindb-postgresql\/data was made by PostgreSQL 15; this node runs PostgreSQL 18\. Back it up with the version that made it/,
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test('an unknown option of start is a usage error', async () => {
    const { code, stderr } = await runCli(['start', '--bogus'], { HOME: tmpdir() });
    assert.equal(code, 2);
    assert.match(stderr, /usage: bigchaindb start \[--experimental-start-postgresql\]/);
  });

  test('the flag before another command is a usage error', async () => {
    const { code, stderr } = await runCli(['--experimental-start-postgresql', 'init'], { HOME: tmpdir() });
    assert.equal(code, 2);
    assert.equal(
      stderr,
      'bigchaindb: --experimental-start-postgresql only applies to start\n\nusage: bigchaindb init ' +
        '[--accept-federation-change]\n(`bigchaindb init --help` describes its arguments and options)\n',
    );
  });
});
