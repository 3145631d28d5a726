import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAndSignTx } from '../../src/protocol/transaction.ts';
import { callApi, type ApiAnswer } from '../support/api-call.ts';
import { forged, generateKeyPair } from '../support/chain.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { nodeDatabase, startPostgres } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';

async function call(
  node: NodeProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<Pick<ApiAnswer, 'status' | 'body'>> {
  const answer = await callApi(
    node.apiUrl,
    method,
    path,
    body === undefined ? undefined : JSON.stringify(body),
  );
  return { status: answer.status, body: answer.body };
}

const seconds = () => Math.floor(Date.now() / 1000);

/**
 * `max_clock_skew` from a node's config file, in the admission of the node process and of `server.workers`
 * processes; a client that retries a CREATE after the window has passed still gets its asset, not a 400.
 */
describe('max_clock_skew of a running node', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bigchain-skew-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a CREATE retried after the window: 200 while in the backlog and once in a block; a new one is a 400', async () => {
    // A block 6 s after its first transaction: the retry 3 s in finds the CREATE still in the backlog.
    const node = await startNodeProcess({
      dir,
      keyPair: generateKeyPair(),
      keyring: [],
      database: { backend: 'embedded', path: join(dir, 'data') },
      settings: { block_timeout: 6, max_clock_skew: 2 },
    });
    try {
      const alice = generateKeyPair();
      const sent = seconds();
      const create = (n: number) =>
        createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
          timestamp: String(sent),
          payload: { n },
        });
      const original = create(1);
      const first = await call(node, 'POST', '/transactions/', original);
      assert.equal(first.status, 201);
      const stored = { id: first.body.id, transaction: first.body.transaction };
      const id = String(stored.id);

      await waitFor('the 2 s window to pass', async () => seconds() - sent >= 3);
      assert.equal((await call(node, 'GET', `/transactions/${id}/status`)).body.status, 'backlog');
      assert.deepEqual(await call(node, 'POST', '/transactions/', original), { status: 200, body: stored });
      const fresh = await call(node, 'POST', '/transactions/', create(2));
      assert.equal(fresh.status, 400);
      assert.match(
        String(fresh.body.message),
        new RegExp(
          `^ClockSkewError: the transaction's timestamp ${sent} is \\d+ s from the node's clock \\(\\d+\\); at most max_clock_skew = 2 s$`,
        ),
      );
      const forgery = await call(node, 'POST', '/transactions/', forged(original, create(2)));
      assert.equal(forgery.status, 400, 'a retry is answered only once its signature is checked');
      assert.match(String(forgery.body.message), /^InvalidSignature: /);

      await waitFor(`${id} to be valid`, async () => {
        const { body } = await call(node, 'GET', `/transactions/${id}/status`);
        return body.status === 'valid';
      });
      assert.deepEqual(await call(node, 'POST', '/transactions/', original), { status: 200, body: stored });
    } finally {
      await node.stop();
    }
  });

  test('server.workers processes (postgresql backend) enforce the configured max_clock_skew', async () => {
    const server = await startPostgres();
    try {
      const node = await startNodeProcess({
        dir,
        keyPair: generateKeyPair(),
        keyring: [],
        database: nodeDatabase(server, 'skew'),
        settings: { block_timeout: 0.2, max_clock_skew: 5, server: { bind: '127.0.0.1:0', workers: 1 } },
      });
      try {
        assert.ok(node.lines.some((line) => /HTTP API served by 1 worker process/.test(line)));
        const alice = generateKeyPair();
        const create = (timestamp: number) =>
          createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
            timestamp: String(timestamp),
          });
        const old = await call(node, 'POST', '/transactions/', create(seconds() - 60));
        assert.equal(old.status, 400);
        assert.match(String(old.body.message), /^ClockSkewError: .*; at most max_clock_skew = 5 s$/);
        assert.equal((await call(node, 'POST', '/transactions/', create(seconds()))).status, 201);
      } finally {
        await node.stop();
      }
    } finally {
      await server.stop();
    }
  });
});
