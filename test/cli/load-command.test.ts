import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLoneNode, type NodeProcess } from '../support/node-process.ts';
import { runCli, type ProcessResult, type RunOptions } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

/** `bigchaindb load ARGS` in a HOME without a config file, pointed at `apiEndpoint`. */
function load(
  home: string,
  apiEndpoint: string,
  args: string[],
  whileRunning?: RunOptions['whileRunning'],
): Promise<ProcessResult> {
  const env = { HOME: home, BIGCHAINDB_API_ENDPOINT: apiEndpoint };
  return runCli(['load', ...args], env, whileRunning === undefined ? {} : { whileRunning });
}

/** The number of CREATEs the node accepted, from its request log. */
function acceptedPosts(node: NodeProcess): number {
  return node.lines.filter((line) => /POST \/api\/v1\/transactions\/? 201/.test(line)).length;
}

describe('bigchaindb load', () => {
  let dir: string;
  let node: NodeProcess;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bigchain-load-'));
    node = await startLoneNode(dir);
  });
  after(async () => {
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('-m 4 -c 50 sends exactly 50 CREATEs, all accepted, and prints the summary', async () => {
    const before = acceptedPosts(node);
    const run = await load(dir, node.apiUrl, ['-m', '4', '-c', '50']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /Sending 50 CREATE transactions to http:\/\/127\.0\.0\.1:\d+\/api\/v1 from 4 concurrent senders/,
    );
    assert.match(
      run.stdout,
      /^50 transactions sent in \d+\.\d s: 50 accepted \(\d+ tx\/s\), 0 refused by the node, 0 without an answer\n/,
    );
    assert.match(run.stdout, /latency: p50 \d+ ms, p95 \d+ ms, max \d+ ms/);
    await waitFor('the node to log the requests', async () => acceptedPosts(node) - before === 50);
  });

  test('a count below the number of senders still stops (0.6 never did)', async () => {
    const before = acceptedPosts(node);
    const run = await load(dir, node.apiUrl, ['-c', '2', '--multiprocess', '8']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^2 transactions sent .*: 2 accepted/);
    await waitFor('the node to log the requests', async () => acceptedPosts(node) - before === 2);
  });

  test('without -c it runs until Ctrl-C, showing a progress line, then prints the summary', async () => {
    const run = await load(dir, node.apiUrl, ['-m'], async ({ stderr, child }) => {
      await waitFor('a progress line', async () =>
        /\d+ sent, \d+ accepted, 0 errors, \d+ tx\/s\n/.test(stderr()),
      );
      child.kill('SIGINT');
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /Sending CREATE transactions until interrupted .* from \d+ concurrent senders?/);
    const summary = /^(\d+) transactions sent in [\d.]+ s: (\d+) accepted/.exec(run.stdout);
    assert.ok(summary, run.stdout);
    assert.ok(Number(summary[2]) > 0);
    assert.equal(summary[1], summary[2]);
    assert.match(run.stdout, /stopped early: interrupted/);
  });

  test('an unreachable node: stops at once, says why, exits 1', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const run = await load(dir, `http://127.0.0.1:${port}/api/v1`, ['-m', '2', '-c', '100000']);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /0 accepted .* without an answer/);
    assert.match(
      run.stdout,
      /× POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/transactions\/? failed: .*ECONNREFUSED/,
    );
    assert.match(run.stdout, /stopped early: the node at http:\/\/127\.0\.0\.1:\d+\/api\/v1 is unreachable/);
    assert.match(
      run.stderr,
      /bigchaindb: no transaction was accepted by http:\/\/127\.0\.0\.1:\d+\/api\/v1\n$/,
    );
  });

  for (const args of [['-c'], ['-c', 'many'], ['-c', '-1'], ['-m', '0'], ['-m', 'x'], ['--fast']]) {
    test(`bad arguments \`load ${args.join(' ')}\`: usage, exit 2`, async () => {
      const run = await load(dir, node.apiUrl, args);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /usage: bigchaindb load \[-m\|--multiprocess \[N\]\] \[-c\|--count N\]/);
      assert.equal(run.stdout, '');
    });
  }
});
