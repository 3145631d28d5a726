import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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
    const data = join(home, '.bigchaindb-data');
    const first = await startAndStop(home, 'SIGTERM');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /INFO  BigchainDB Version 0\.6\.0/);
    assert.match(first.stderr, /Generated a keypair; configuration written to .*\.bigchaindb/);
    assert.match(first.stderr, new RegExp(`INFO  PostgreSQL created and started in ${data}\n`));
    assert.match(first.stderr, /Created the database and its genesis block/);
    assert.match(first.stderr, /SIGTERM: finishing the block in hand/);
    assert.match(first.stderr, /INFO  Stopped, and its PostgreSQL server with it\n$/);
    const configPath = join(home, '.bigchaindb');
    const config = JSON.parse(await readFile(configPath, 'utf8')) as {
      keypair: { public: string };
      database: { password: string };
    };
    assert.match(config.keypair.public, /^[1-9A-HJ-NP-Za-km-z]{43,44}$/);
    assert.match(config.database.password, /^[A-Za-z0-9_-]{20,}$/, 'a generated database password');
    assert.equal(
      (await stat(configPath)).mode & 0o777,
      0o600,
      'the private key is readable by its owner only',
    );
    assert.equal((await stat(data)).mode & 0o777, 0o700, 'only this OS user reaches the socket');
    assert.equal(existsSync(join(data, 'pgdata', 'postmaster.pid')), false, 'the server is down');

    const second = await startAndStop(home, 'SIGINT');
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /Generated a keypair|Created the database/, 'reuses both');
    assert.match(second.stderr, new RegExp(`INFO  PostgreSQL started in ${data}\n`));
    assert.match(second.stderr, new RegExp(`node ${config.keypair.public} on the embedded database`));
  });

  test('while a node runs: a second node on its directory is refused, a command shares its server', async () => {
    const backupFile = join(home, 'while-running.ndjson');
    const run = await startAndStop(home, 'SIGTERM', {
      whileRunning: async ({ pid, stderr }) => {
        const second = await runCli(['start'], { HOME: home, BIGCHAINDB_SERVER_BIND: '127.0.0.1:0' });
        assert.equal(second.code, 1, second.stderr);
        assert.match(
          second.stderr,
          new RegExp(
            `bigchaindb: the embedded database in ${home}/\\.bigchaindb-data is in use by the node in process ${pid}: one node per database directory`,
          ),
        );
        const backup = await runCli(['backup', backupFile], { HOME: home });
        assert.equal(backup.code, 0, backup.stderr);
        assert.match(backup.stderr, /^Backed up \d+ blocks and \d+ votes to /);
        // The node's server is still the node's: it keeps serving.
        const apiEndpoint = /Listening to client connections on: (\S+)/.exec(stderr())![1]!;
        await tempClient({ apiEndpoint }).create();
      },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /INFO  Stopped, and its PostgreSQL server with it\n$/);
  });

  test('a node killed outright leaves its server running: the next start adopts it, then stops it', async () => {
    const data = join(home, '.bigchaindb-data');
    const killed = await startAndStop(home, 'SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(existsSync(join(data, 'pgdata', 'postmaster.pid')), 'left running');
    const next = await startAndStop(home, 'SIGTERM');
    assert.equal(next.code, 0, next.stderr);
    assert.match(
      next.stderr,
      new RegExp(`INFO  PostgreSQL already runs in ${data} \\(left by a node that was killed\\); using it\n`),
    );
    assert.match(next.stderr, /INFO  Stopped, and its PostgreSQL server with it\n$/);
    assert.equal(existsSync(join(data, 'pgdata', 'postmaster.pid')), false);
  });

  test('server.threads: has no effect, said at INFO; each request at DEBUG, a summary at INFO', async () => {
    const run = await startAndStop(home, 'SIGTERM', {
      env: { BIGCHAINDB_SERVER_WORKERS: '0', BIGCHAINDB_SERVER_THREADS: '4' },
      whileRunning: async ({ stderr }) => {
        const apiEndpoint = /Listening to client connections on: (\S+)/.exec(stderr())![1]!;
        await tempClient({ apiEndpoint }).create();
      },
    });
    assert.equal(run.code, 0, run.stderr);
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
    // Each HTTP API process (by default one per core: `http:1`, `http:2`…) sums up its own requests.
    const summaries = info.filter((record) => /^http(:\d+)?$/.test(String(record.name)));
    assert.ok(summaries.length > 0, 'a summary event');
    assert.equal(
      summaries.reduce((sum, record) => sum + Number(record.requests), 0),
      2,
      'the GET and the POST, summed up',
    );
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
  test('runs the node on the embedded PostgreSQL server whatever database.backend says', async () => {
    const home = await mkdtemp(join(tmpdir(), 'bigchain-start-pg-'));
    try {
      // Nothing listens there: a node that used the configured server would not start.
      const env = {
        BIGCHAINDB_DATABASE_BACKEND: 'postgresql',
        BIGCHAINDB_DATABASE_PORT: String(await freePort()),
      };
      const args = ['--experimental-start-postgresql'];
      const first = await startAndStop(home, 'SIGTERM', { args, env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /PostgreSQL created and started in .*\.bigchaindb-data\n/);
      assert.match(first.stderr, /on the embedded database in .*\.bigchaindb-data/);
      // The seed's placement: the flag before the command.
      const second = await startAndStop(home, 'SIGINT', { globalArgs: args, env });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /PostgreSQL started in .*\.bigchaindb-data\n/);
      assert.doesNotMatch(second.stderr, /Created the database/, 'the chain was kept');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('bigchaindb start on a data directory it cannot run', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-start-old-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('a cluster made by another PostgreSQL major version: refused with what to do', async () => {
    const data = join(home, 'major');
    await mkdir(join(data, 'pgdata'), { recursive: true, mode: 0o700 });
    await writeFile(join(data, 'pgdata', 'PG_VERSION'), '15\n');
    const { code, stderr } = await runCli(['start'], { HOME: home, BIGCHAINDB_DATABASE_PATH: data });
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      /the PostgreSQL cluster in .*\/major\/pgdata was made by PostgreSQL 15; this node runs PostgreSQL 18\. Back it up with the version that made it/,
    );
  });

  test('a database of the earlier in-process engine (PGlite): refused, saying how to move it', async () => {
    const data = join(home, 'pglite');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'PG_VERSION'), '17\n');
    for (const command of ['start', 'init', 'verify']) {
      const { code, stderr } = await runCli([command], { HOME: home, BIGCHAINDB_DATABASE_PATH: data });
      assert.equal(code, 1, `${command}: ${stderr}`);
      assert.match(
        stderr,
        new RegExp(
          `${data} holds a database of the earlier embedded engine \\(PGlite, inside the node's process\\).*` +
            `\`bigchaindb backup chain\\.ndjson\` \\(it reads the old directory\\), \`mv ${data} ${data}\\.pglite\`, ` +
            '`bigchaindb restore chain\\.ndjson`, then `bigchaindb start`',
        ),
      );
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
