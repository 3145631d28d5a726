/**
 * Monitoring with the real things (docs/monitoring.md): StatsD packets caught by a UDP listener, from the
 * metrics module and from a node under `bigchaindb load`; `/healthz` and `/readyz` while the database goes
 * away and comes back; a Prometheus server (the Debian package; the test says so and skips where it is not
 * installed) scraping a node, whose query API counts what the test posted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NodeMetrics } from '../../src/node/metrics.ts';
import type { Logger } from '../../src/node/log.ts';
import { createAndSignTx } from '../../src/protocol/transaction.ts';
import { callApi } from '../support/api-call.ts';
import { generateKeyPair } from '../support/chain.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { freePort } from '../support/ports.ts';
import { nodeDatabase, type PostgresServer, startPostgres } from '../support/postgres.ts';
import { runCli } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const PREFIX = `${hostname()}.bigchaindb.`;
const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((path) => existsSync(path));

interface StatsdLine {
  name: string;
  value: number;
  type: string;
  rate: number;
}

/** A UDP listener on 127.0.0.1 that parses every StatsD line it receives (`name:value|type[|@rate]`). */
async function statsdListener(): Promise<{ port: number; lines: StatsdLine[]; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  const lines: StatsdLine[] = [];
  socket.on('message', (packet) => {
    for (const line of packet.toString('utf8').split('\n').filter(Boolean)) {
      const match = /^([^:]+):(-?[\d.]+)\|(c|ms|h|g)(?:\|@([\d.]+))?$/.exec(line);
      assert.ok(match, `a StatsD line: ${line}`);
      lines.push({ name: match[1]!, value: Number(match[2]), type: match[3]!, rate: Number(match[4] ?? 1) });
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    lines,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** The sum of the values of the lines named `name` (without the prefix). */
function total(lines: readonly StatsdLine[], name: string): number {
  return lines.filter((line) => line.name === PREFIX + name).reduce((sum, line) => sum + line.value, 0);
}

/** A node process on a fresh embedded database in `dir`, fast blocks, with these StatsD settings. */
function embeddedNode(
  dir: string,
  statsd: { host: string; port: number; rate: number },
): Promise<NodeProcess> {
  return startNodeProcess({
    dir,
    keyPair: generateKeyPair(),
    keyring: [],
    database: { backend: 'embedded', path: join(dir, 'data') },
    settings: { block_timeout: 0.2, statsd },
  });
}

function capturingLogger(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log: Logger = {
    debug: () => {},
    info: () => {},
    warn: (message) => warnings.push(message),
    error: (message) => warnings.push(`ERROR ${message}`),
    child: () => log,
  };
  return { log, warnings };
}

describe('StatsD from the metrics module', () => {
  test('counters are summed in the process and sent exact; timers and histograms are sampled at statsd.rate and say so', async () => {
    const listener = await statsdListener();
    try {
      const metrics = new NodeMetrics({ statsd: { host: '127.0.0.1', port: listener.port, rate: 0.5 } });
      for (let i = 0; i < 400; i++) metrics.transactionAccepted(2);
      for (let i = 0; i < 40; i++) metrics.blockWritten(7, 0.002, 0.01);
      await metrics.close();
      await waitFor('the packets', async () => listener.lines.length > 0);
      const { lines } = listener;
      const named = (name: string) => lines.filter((line) => line.name === PREFIX + name);
      assert.deepEqual(named('transactions.accepted'), [
        { name: `${PREFIX}transactions.accepted`, value: 400, type: 'c', rate: 1 },
      ]);
      assert.equal(total(lines, 'blocks.written'), 40);
      const timed = named('write_transaction');
      // 400 events at 0.5: outside [100, 300] only with a probability below 1e-20.
      assert.ok(timed.length > 100 && timed.length < 300, `${timed.length} of 400 sent`);
      assert.ok(timed.every((line) => line.type === 'ms' && line.value === 2 && line.rate === 0.5));
      for (const [name, type] of [
        ['block.size', 'h'],
        ['block.build', 'ms'],
        ['block.write', 'ms'],
      ] as const) {
        assert.ok(named(name).length < 40, `${name} sampled`);
        assert.ok(
          named(name).every((line) => line.type === type && line.rate === 0.5),
          name,
        );
      }
    } finally {
      await listener.close();
    }
  });

  test('a host that does not resolve, or no listener: the node goes on, with one WARN line', async () => {
    const { log, warnings } = capturingLogger();
    const unresolvable = new NodeMetrics({
      statsd: { host: 'no-such-statsd-host.invalid', port: 8125, rate: 1 },
      log,
    });
    for (let i = 0; i < 50; i++) unresolvable.transactionReceived();
    // Sent within a second, and on close.
    await waitFor('the failure to be reported', async () => warnings.length > 0);
    for (let i = 0; i < 50; i++) unresolvable.transactionAccepted(1);
    await unresolvable.close();
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0]!,
      /^StatsD: cannot send metrics \(.*ENOTFOUND.*\); the node goes on without them$/,
    );

    const port = await freePort();
    const nobody = new NodeMetrics({ statsd: { host: '127.0.0.1', port, rate: 1 }, log });
    for (let i = 0; i < 50; i++) nobody.transactionAccepted(1);
    await nobody.close();
    assert.ok(warnings.every((warning) => !warning.startsWith('ERROR')));
  });

  test('no statsd.host: nothing is sent, and Prometheus still counts', async () => {
    const metrics = new NodeMetrics({ statsd: { host: '', port: 8125, rate: 1 } });
    metrics.transactionReceived();
    const metric = metrics.registry.getSingleMetric('bigchaindb_transactions_received_total')!;
    assert.equal((await metric.get()).values[0]?.value, 1);
    await metrics.close();
  });
});

describe('a node under `bigchaindb load`, sending StatsD', () => {
  test('names, types and counts of what it sends, from the API workers and the node process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bigchain-statsd-'));
    const listener = await statsdListener();
    let node: NodeProcess | undefined;
    try {
      node = await embeddedNode(dir, { host: '127.0.0.1', port: listener.port, rate: 1 });
      const load = await runCli(['load', '-m', '2', '-c', '30'], {
        HOME: dir,
        BIGCHAINDB_API_ENDPOINT: node.apiUrl,
      });
      assert.equal(load.code, 0, load.stderr);
      const { lines } = listener;
      // Each process flushes what it buffered at least every second.
      await waitFor(
        'the transactions received and decided, as StatsD tells',
        async () =>
          total(lines, 'blocks.valid.transactions') === 30 && total(lines, 'transactions.received') === 30,
        { timeoutMs: 30_000 },
      );
      assert.equal(total(lines, 'transactions.received'), 30);
      assert.equal(total(lines, 'transactions.accepted'), 30);
      assert.equal(total(lines, 'backlog.written'), 30);
      assert.equal(lines.filter((line) => line.name === `${PREFIX}write_transaction`).length, 30);
      assert.equal(total(lines, 'signatures.checked'), 30);
      assert.ok(total(lines, 'blocks.written') >= 1);
      assert.equal(total(lines, 'votes.valid'), total(lines, 'blocks.written'));
      assert.equal(
        lines.filter((line) => line.name === `${PREFIX}http.post.api_v1_transactions.201`).length,
        30,
      );
      const types = new Map(lines.map((line) => [line.name.slice(PREFIX.length), line.type]));
      for (const [name, type] of Object.entries({
        'transactions.received': 'c',
        write_transaction: 'ms',
        'backlog.write': 'ms',
        'block.size': 'h',
        'block.build': 'ms',
        'block.write': 'ms',
        election: 'ms',
        'blocks.valid': 'c',
      }))
        assert.equal(types.get(name), type, name);
      assert.ok(lines.every((line) => line.name.startsWith(PREFIX) && line.rate === 1));
    } finally {
      await node?.stop();
      await listener.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('health and readiness of a node on a PostgreSQL server that goes away', () => {
  let server: PostgresServer;
  let dir: string;
  before(async () => {
    server = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'bigchain-readyz-'));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const workers of [null, 0]) {
    test(`/readyz is 503 naming the database while it is down, 200 when it is back; /healthz 200 throughout (server.workers: ${workers})`, async () => {
      const node = await startNodeProcess({
        dir,
        keyPair: generateKeyPair(),
        keyring: [],
        database: nodeDatabase(server, `readyz_${workers ?? 'default'}`),
        settings: { server: { bind: '127.0.0.1:0', workers } },
      });
      const root = node.apiUrl.replace(/\/api\/v1$/, '');
      try {
        const ready = await callApi(root, 'GET', '/readyz');
        assert.equal(ready.status, 200, JSON.stringify(ready.body));
        assert.deepEqual(ready.body, {
          status: 'ready',
          checks: [
            { name: 'database', ok: true },
            { name: 'pipelines', ok: true },
            { name: 'signature workers', ok: true },
          ],
        });

        await server.kill();
        const down = await callApi(root, 'GET', '/readyz');
        assert.equal(down.status, 503);
        assert.match(String(down.body.message), /^not ready: database: the database does not answer: /);
        assert.deepEqual((await callApi(root, 'GET', '/healthz')).body, { status: 'ok' });

        await server.start();
        const back = await waitFor(
          '/readyz to be 200 again',
          async () => {
            const answer = await callApi(root, 'GET', '/readyz');
            return answer.status === 200 && answer;
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        assert.equal(back.body.status, 'ready');
      } finally {
        await node.stop();
      }
    });
  }
});

describe('a Prometheus server scraping a node', () => {
  test(
    'its query API counts the transactions the test posted',
    {
      skip:
        PROMETHEUS === undefined
          ? 'prometheus is not installed (Debian: apt-get install prometheus; .ci/run installs it)'
          : false,
    },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'bigchain-prometheus-'));
      let node: NodeProcess | undefined;
      const prometheusPort = await freePort();
      let prometheus: ReturnType<typeof spawn> | undefined;
      try {
        node = await embeddedNode(dir, { host: '', port: 8125, rate: 1 });
        const target = new URL(node.apiUrl).host;
        await writeFile(
          join(dir, 'prometheus.yml'),
          `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: bigchaindb\n    static_configs:\n      - targets: ['${target}']\n`,
        );
        prometheus = spawn(
          PROMETHEUS!,
          [
            `--config.file=${join(dir, 'prometheus.yml')}`,
            `--storage.tsdb.path=${join(dir, 'tsdb')}`,
            `--web.listen-address=127.0.0.1:${prometheusPort}`,
          ],
          { stdio: 'ignore' },
        );
        const alice = generateKeyPair();
        const posted = 12;
        for (let n = 0; n < posted; n++) {
          const tx = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
            payload: { n },
          });
          assert.equal(
            (await callApi(node.apiUrl, 'POST', '/transactions/', JSON.stringify(tx))).status,
            201,
          );
        }
        const query = async (expression: string): Promise<number | undefined> => {
          const url = `http://127.0.0.1:${prometheusPort}/api/v1/query?query=${encodeURIComponent(expression)}`;
          const answer = (await (await fetch(url)).json()) as {
            data?: { result?: { value: [number, string] }[] };
          };
          const value = answer.data?.result?.[0]?.value[1];
          return value === undefined ? undefined : Number(value);
        };
        const counted = await waitFor(
          'Prometheus to have scraped every accepted transaction',
          async () => {
            const value = await query('bigchaindb_transactions_accepted_total').catch(() => undefined);
            return value === posted && value;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        assert.equal(counted, posted);
        assert.equal(await query('up{job="bigchaindb"}'), 1);
        assert.ok(((await query('sum(bigchaindb_http_request_duration_seconds_count)')) ?? 0) >= posted);
      } finally {
        prometheus?.kill('SIGTERM');
        await node?.stop();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
