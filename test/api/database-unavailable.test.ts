import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAndSignTx } from '../../src/protocol/transaction.ts';
import { callApi } from '../support/api-call.ts';
import { generateKeyPair } from '../support/chain.ts';
import { logRecord } from '../support/log-records.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { nodeDatabase, type PostgresServer, startPostgres } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

/**
 * A node on the postgresql backend whose PostgreSQL server goes away and comes back: clients are told to
 * retry (503 + Retry-After), never given a 500, and the node's log gets no ERROR line per request.
 */
describe('the HTTP API while its PostgreSQL server is down', () => {
  let server: PostgresServer;
  let dir: string;
  let databases = 0;

  before(async () => {
    server = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'bigchain-unavailable-'));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function call(node: NodeProcess, method: string, path: string, body?: unknown): Promise<Answer> {
    const answer = await callApi(
      node.apiUrl,
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
    );
    return { status: answer.status, retryAfter: answer.headers.get('retry-after'), body: answer.body };
  }

  for (const workers of [null, 2]) {
    test(`503 + Retry-After while it is stopped, 201 once it runs again (server.workers: ${workers})`, async () => {
      const database = nodeDatabase(server, `unavailable_${++databases}`);
      const node = await startNodeProcess({
        dir,
        keyPair: generateKeyPair(),
        keyring: [],
        database,
        settings: { block_timeout: 0.2, server: { bind: '127.0.0.1:0', workers } },
      });
      try {
        const alice = generateKeyPair();
        const create = (n: number) =>
          createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
            payload: { n },
          });
        const before = await call(node, 'POST', '/transactions/', create(0));
        assert.equal(before.status, 201);
        const id = (before.body as { id: string }).id;

        await server.kill();
        const from = node.lines.length;
        const down = [
          await call(node, 'GET', `/transactions/${id}/status`),
          await call(node, 'GET', `/transactions/${id}`),
          ...(await Promise.all([1, 2, 3].map((n) => call(node, 'POST', '/transactions/', create(n))))),
        ];
        for (const answer of down) {
          assert.equal(answer.status, 503, JSON.stringify(answer.body));
          assert.match(answer.retryAfter ?? '', /^[1-5]$/);
          assert.deepEqual(answer.body, {
            status: 503,
            message: `the database is unavailable; retry in ${answer.retryAfter} s`,
          });
        }

        await server.start();
        // Retried as a client told to wait would: every answer on the way is a 503, then the CREATE is in.
        const retried = await waitFor(
          'the POST to be admitted again',
          async () => {
            const answer = await call(node, 'POST', '/transactions/', create(4));
            if (answer.status === 503) return false;
            return answer;
          },
          { timeoutMs: 60_000, intervalMs: 200 },
        );
        assert.equal(retried.status, 201, JSON.stringify(retried.body));
        assert.equal((await call(node, 'GET', `/transactions/${id}/status`)).status, 200);

        const http = node.lines
          .slice(from)
          .map(logRecord)
          .filter((record) => record !== undefined && /^http(:\d+)?$/.test(record.name ?? ''));
        assert.deepEqual(
          http.filter((record) => record?.level === 'error'),
          [],
        );
        assert.equal(
          http.filter((record) => / 500 /.test(record?.msg ?? '')).length,
          0,
          'no request was answered 500',
        );
        const warnings = http.filter(
          (record) =>
            record?.level === 'warn' && /the database is unavailable, answering 503/.test(record.msg),
        );
        assert.ok(warnings.length >= 1, 'the operator is told');
        assert.ok(
          warnings.length <= 2 * (workers ?? 1),
          `rate-limited, not one per request: ${warnings.length}`,
        );
      } finally {
        await node.stop('SIGKILL');
      }
    });
  }
});
