/**
 * monitoring/: the seed's stack (Telegraf's StatsD input → InfluxDB → Grafana, and Prometheus). No container
 * engine runs here, so the compose file is parsed, and the node it describes is run as it says: with the
 * environment and command of its `bigchaindb` service (the hosts it names mapped to this machine), its
 * StatsD packets caught where Telegraf would listen. The dashboard may only ask for metrics a node exports.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { NodeMetrics } from '../../src/node/metrics.ts';
import { createAndSignTx } from '../../src/protocol/transaction.ts';
import { callApi } from '../support/api-call.ts';
import { generateKeyPair } from '../support/chain.ts';
import { freePort } from '../support/ports.ts';
import { BIGCHAINDB_ARGS, ROOT } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const MONITORING = join(ROOT, 'monitoring');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
}

async function compose(): Promise<Record<string, Service>> {
  const text = await readFile(join(MONITORING, 'docker-compose-monitor.yml'), 'utf8');
  return (parse(text) as { services: Record<string, Service> }).services;
}

describe('monitoring/docker-compose-monitor.yml', () => {
  test('the seed stack: Telegraf on UDP 8125 into InfluxDB, Grafana with its dashboard, Prometheus on the nodes', async () => {
    const services = await compose();
    assert.deepEqual(Object.keys(services).sort(), [
      'bigchaindb',
      'grafana',
      'influxdb',
      'prometheus',
      'telegraf',
    ]);
    assert.ok(services.telegraf!.ports!.includes('8125:8125/udp'));
    assert.ok(services.grafana!.ports!.includes('3000:3000'));
    const telegraf = await readFile(join(MONITORING, 'telegraf.conf'), 'utf8');
    assert.match(telegraf, /\[\[inputs\.statsd\]\][^[]*service_address = ":8125"/);
    assert.match(telegraf, /\[\[outputs\.influxdb\]\][^[]*urls = \["http:\/\/influxdb:8086"\]/);
    const prometheus = parse(await readFile(join(MONITORING, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    assert.equal(prometheus.scrape_configs[0]!.metrics_path, '/metrics');
    assert.deepEqual(prometheus.scrape_configs[0]!.static_configs[0]!.targets, ['bigchaindb:9984']);
    const env = services.bigchaindb!.environment!;
    assert.equal(env.BIGCHAINDB_STATSD_HOST, 'telegraf');
    assert.equal(env.BIGCHAINDB_STATSD_PORT, '8125');
  });

  test('its bigchaindb service, run with that environment and command, sends its StatsD packets to Telegraf’s port', async () => {
    const service = (await compose()).bigchaindb!;
    assert.deepEqual(service.command, ['bigchaindb', 'start']);
    const home = await mkdtemp(join(tmpdir(), 'bigchain-compose-'));
    const telegraf = dgram.createSocket('udp4');
    const packets: string[] = [];
    telegraf.on('message', (packet) => packets.push(...packet.toString().split('\n')));
    await new Promise<void>((resolve) => telegraf.bind(0, '127.0.0.1', resolve));
    const apiPort = await freePort();
    // The compose network's names, on this machine: telegraf is the listener, the API a free local port.
    const environment: Record<string, string> = {
      ...service.environment,
      BIGCHAINDB_STATSD_HOST: '127.0.0.1',
      BIGCHAINDB_STATSD_PORT: String(telegraf.address().port),
      BIGCHAINDB_SERVER_BIND: `127.0.0.1:${apiPort}`,
    };
    assert.deepEqual(Object.keys(environment).sort(), Object.keys(service.environment!).sort());
    const child = spawn(process.execPath, [...BIGCHAINDB_ARGS, ...service.command.slice(1)], {
      cwd: home,
      env: { PATH: process.env.PATH, HOME: home, ...environment },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const lines: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
    try {
      await waitFor(
        'the node to listen',
        async () => lines.some((line) => line.includes('Listening to client')),
        {
          timeoutMs: 60_000,
        },
      );
      const alice = generateKeyPair();
      const tx = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE');
      const answer = await callApi(
        `http://127.0.0.1:${apiPort}/api/v1`,
        'POST',
        '/transactions/',
        JSON.stringify(tx),
      );
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      await waitFor('the StatsD packets', async () =>
        packets.some((line) => /\.bigchaindb\.transactions\.accepted:1\|c$/.test(line)),
      );
    } finally {
      child.kill('SIGTERM');
      await exited;
      telegraf.close();
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('monitoring/grafana/dashboards/bigchaindb.json', () => {
  test('every metric its panels ask for is one a node exports (throughput, latency, backlog, decisions, health)', async () => {
    const dashboard = JSON.parse(
      await readFile(join(MONITORING, 'grafana/dashboards/bigchaindb.json'), 'utf8'),
    ) as { panels: { title: string; targets: { expr: string }[] }[] };
    const metrics = new NodeMetrics();
    metrics.observe({ backlogSize: async () => 0, verifyPoolPending: () => 0 });
    const exported = new Set<string>(['up']);
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      exported.add(metric.name);
      if (String(metric.type) === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) exported.add(metric.name + suffix);
    }
    await metrics.close();
    const asked = dashboard.panels.flatMap((panel) =>
      panel.targets.flatMap((target) =>
        [...target.expr.matchAll(/\b(bigchaindb_\w+|up)\b/g)].map((m) => m[1]!),
      ),
    );
    assert.ok(asked.length >= 15);
    assert.deepEqual(
      asked.filter((name) => !exported.has(name)),
      [],
    );
    const titles = dashboard.panels.map((panel) => panel.title.toLowerCase()).join(' | ');
    for (const topic of ['accepted', 'latency', 'backlog', 'decided', 'restarts'])
      assert.match(titles, new RegExp(topic));
  });
});
