import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../support/wait.ts';

const BIN = new URL('../../bin/bigchaindb.js', import.meta.url).pathname;

/** `bigchaindb start` in a fresh HOME: waits for the node to run, stops it with `signal`. */
async function startAndStop(
  home: string,
  signal: NodeJS.Signals,
  options: { args?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'start', ...(options.args ?? [])], {
    env: {
      PATH: process.env.PATH,
      HOME: home,
      BIGCHAINDB_BLOCK_TIMEOUT: '0.1',
      BIGCHAINDB_SERVER_BIND: '127.0.0.1:0',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  await waitFor('the node to start', async () => {
    if (code !== undefined) throw new Error(`exited early (${code}): ${stderr}`);
    return stderr.includes('Starting BigchainDB main process');
  });
  child.kill(signal);
  return { code: await exited, stderr };
}

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

  test('a broken configuration is reported with exit 1, and nothing starts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bigchain-start-bad-'));
    await writeFile(join(dir, '.bigchaindb'), '{"keypair": ');
    const child = spawn(process.execPath, [BIN, 'start'], {
      env: { PATH: process.env.PATH, HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
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

      const second = await startAndStop(home, 'SIGINT', { args, env });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, new RegExp(`PostgreSQL started in .* on port ${port}`));
      assert.doesNotMatch(second.stderr, /Created the database/, 'the chain was kept');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test('an unknown option of start is a usage error', async () => {
    const child = spawn(process.execPath, [BIN, 'start', '--bogus'], {
      env: { PATH: process.env.PATH, HOME: tmpdir() },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 2);
    assert.match(stderr, /usage: bigchaindb start \[--experimental-start-postgresql\]/);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
