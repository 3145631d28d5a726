import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { apiWorkerCount } from '../../src/cli/main.ts';
import { ConfigurationError, defaultConfig, environmentConfig } from '../../src/config/config.ts';
import { tempClient } from '../../src/driver/index.ts';
import { silentLogger } from '../../src/node/log.ts';
import { startAndStop } from '../support/start-node.ts';
import { waitFor } from '../support/wait.ts';

describe('bigchaindb start: HTTP API worker processes', () => {
  test('server.workers: unset, one per core; 0, none (the API in the node process); a negative count is refused', () => {
    const withWorkers = (workers: number | null) => {
      const config = defaultConfig();
      config.server.workers = workers;
      return apiWorkerCount(config, silentLogger);
    };
    assert.equal(defaultConfig().server.workers, null);
    assert.equal(withWorkers(null), availableParallelism());
    assert.equal(withWorkers(0), 0);
    assert.equal(withWorkers(3), 3);
    assert.equal(environmentConfig({ BIGCHAINDB_SERVER_WORKERS: '0' }).server.workers, 0);
    assert.throws(
      () => environmentConfig({ BIGCHAINDB_SERVER_WORKERS: '-1' }),
      (error: Error) =>
        error instanceof ConfigurationError &&
        /server\.workers in BIGCHAINDB_SERVER_WORKERS: expected a whole number ≥ 0 or null, got "-1"/.test(
          error.message,
        ),
    );
  });

  test("by default one worker per core, whose signature checks the node's block pipeline does not repeat", async () => {
    const home = await mkdtemp(join(tmpdir(), 'bigchain-start-default-workers-'));
    const cores = availableParallelism();
    try {
      const run = await startAndStop(home, 'SIGTERM', {
        whileRunning: async ({ pid, stderr }) => {
          assert.match(
            stderr(),
            new RegExp(
              `HTTP API served by ${cores} worker process${cores === 1 ? '' : 'es'} \\(server\\.workers\\)`,
            ),
          );
          assert.equal(apiWorkerPids(pid).length, cores);
          const apiEndpoint = /Listening to client connections on: (\S+)/.exec(stderr())![1]!;
          const client = tempClient({ apiEndpoint });
          await Promise.all(Array.from({ length: 10 }, () => client.create()));
          const metrics = `${apiEndpoint.replace(/\/api\/v1$/, '')}/metrics`;
          const text = await waitFor('the 10 transactions decided valid', async () => {
            const scraped = await (await fetch(metrics)).text();
            return (
              /^bigchaindb_block_transactions_decided_total\{result="valid"\} 10$/m.test(scraped) && scraped
            );
          });
          // The tag key reached the workers: each row they wrote was taken up without a second check.
          assert.match(text, /^bigchaindb_backlog_signature_checks_total\{check="skipped"\} 10$/m);
          assert.match(text, /^bigchaindb_backlog_signature_checks_total\{check="verified"\} 0$/m);
        },
      });
      assert.equal(run.code, 0, run.stderr);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test('server.workers 0: the node process serves the API, with no worker process', async () => {
    const home = await mkdtemp(join(tmpdir(), 'bigchain-start-no-workers-'));
    try {
      const run = await startAndStop(home, 'SIGTERM', {
        env: { BIGCHAINDB_SERVER_WORKERS: '0' },
        whileRunning: async ({ pid, stderr }) => {
          assert.equal(apiWorkerPids(pid).length, 0);
          const apiEndpoint = /Listening to client connections on: (\S+)/.exec(stderr())![1]!;
          await tempClient({ apiEndpoint }).create();
          await waitFor('the request logged by the node process', async () =>
            /DEBUG \[http\] POST \/api\/v1\/transactions\/ 201/.test(stderr()),
          );
        },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /HTTP API served by/);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test('server.workers: API processes share server.bind, a dead one is replaced, all stop with the node', async () => {
    const home = await mkdtemp(join(tmpdir(), 'bigchain-start-workers-'));
    let workerPids: number[] = [];
    try {
      const env = { BIGCHAINDB_SERVER_WORKERS: '2' };
      const run = await startAndStop(home, 'SIGTERM', {
        env,
        whileRunning: async ({ pid, stderr }) => {
          assert.match(stderr(), /HTTP API served by 2 worker processes \(server\.workers\)/);
          const apiEndpoint = /Listening to client connections on: (\S+)/.exec(stderr())![1]!;
          const client = tempClient({ apiEndpoint });
          const send = (n: number) => Promise.all(Array.from({ length: n }, () => client.create()));
          await send(40);
          // node:cluster hands connections to the workers in turn: both answered.
          assert.match(stderr(), /DEBUG \[http:1\] POST \/api\/v1\/transactions\/ 201/);
          assert.match(stderr(), /DEBUG \[http:2\] POST \/api\/v1\/transactions\/ 201/);
          // Whichever worker answers GET /metrics, it counts the whole node: the blocks the `start`
          // process decided, with the process metrics of all three summed.
          const base = apiEndpoint.replace(/\/api\/v1$/, '');
          const validTransactions = /^bigchaindb_block_transactions_decided_total\{result="valid"\} (\d+)$/m;
          await waitFor('the 40 transactions decided valid, in the metrics', async () => {
            const text = await (await fetch(`${base}/metrics`)).text();
            return Number(validTransactions.exec(text)?.[1]) === 40;
          });
          const scrapes = await Promise.all(
            Array.from({ length: 4 }, async () => {
              // A connection each, so that node:cluster hands them to both workers.
              const response = await fetch(`${base}/metrics`, { headers: { connection: 'close' } });
              return response.text();
            }),
          );
          for (const text of scrapes) {
            assert.equal(validTransactions.exec(text)?.[1], '40', text);
            assert.match(text, /^process_cpu_seconds_total \d/m);
          }
          assert.match(stderr(), /DEBUG \[http:1\] GET \/metrics 200/);
          assert.match(stderr(), /DEBUG \[http:2\] GET \/metrics 200/);
          workerPids = apiWorkerPids(pid);
          assert.equal(workerPids.length, 2, 'two worker processes');
          process.kill(workerPids[0]!, 'SIGKILL');
          await waitFor('the worker to be replaced', async () =>
            stderr().includes('HTTP API worker replaced'),
          );
          assert.match(stderr(), new RegExp(`ERROR HTTP API worker ${workerPids[0]} exited \\(SIGKILL\\)`));
          await send(10);
          workerPids = apiWorkerPids(pid);
          assert.equal(workerPids.length, 2, 'two worker processes again');
        },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /INFO  Stopped, and its PostgreSQL server with it\n$/);
      for (const pid of workerPids)
        assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

/** The HTTP API worker processes of the node process `pid`. */
function apiWorkerPids(pid: number): number[] {
  const listed = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  return listed
    .split('\n')
    .filter((line) => /\/api\/worker\.(ts|js)\b/.test(line))
    .map((line) => Number.parseInt(line.trim(), 10));
}
