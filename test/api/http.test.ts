import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { base58Encode } from '../../src/protocol/base58.ts';
import { Ed25519Fulfillment } from '../../src/protocol/cc/index.ts';
import {
  conditionBody,
  createAndSignTx,
  createTransaction,
  lookupInTransactions,
  ownersCondition,
  signTransaction,
  type Transaction,
} from '../../src/protocol/transaction.ts';
import { callApi, type ApiAnswer } from '../support/api-call.ts';
import { forged, generateKeyPair } from '../support/chain.ts';
import { atLevel, logRecord } from '../support/log-records.ts';
import { startLoneNode, type NodeProcess } from '../support/node-process.ts';
import { waitFor } from '../support/wait.ts';

/** The seed's "HTTP Client-Server API" page: the body of its `POST /transactions/` example, as printed. */
const SEED_EXAMPLE = {
  id: '7ad5a4b83bc8c70c4fd7420ff3c60693ab8e6d0e3124378ca69ed5acd2578792',
  transaction: {
    conditions: [
      {
        cid: 0,
        condition: {
          details: {
            bitmask: 32,
            public_key: 'CwA8s2QYQBfNz4WvjEwmJi83zYr7JhxRhidx6uZ5KBVd',
            signature: null,
            type: 'fulfillment',
            type_id: 4,
          },
          uri: 'cc:4:20:sVA_3p8gvl8yRFNTomqm6MaavKewka6dGYcFAuPrRXQ:96',
        },
        owners_after: ['CwA8s2QYQBfNz4WvjEwmJi83zYr7JhxRhidx6uZ5KBVd'],
      },
    ],
    data: {
      payload: null,
      uuid: 'a9999d69-6cde-4b80-819d-ed57f6abe257',
    },
    fulfillments: [
      {
        owners_before: ['JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE'],
        fid: 0,
        fulfillment:
          'cf:4:__Y_Um6H73iwPe6ejWXEw930SQhqVGjtAHTXilPp0P01vE_Cx6zs3GJVoO1jhPL18C94PIVkLTGMUB2aKC9qsbIb3w8ejpOf0_I3OCuTbPdkd6r2lKMeVftMyMxkeWoM',
        input: {
          cid: 0,
          txid: '598ce4e9a29837a1c6fc337ee4a41b61c20ad25d01646754c825b1116abd8761',
        },
      },
    ],
    operation: 'TRANSFER',
    timestamp: '1471423869',
    version: 1,
  },
} as const;

/** The user of the seed's examples (0.6 tests/conftest.py `user_sk`/`user_vk`); its key signs that example. */
const SEED_USER = {
  privateKey: '8eJ8q9ZQpReWyQT5aFCiwtZ5wDZC4eDnCen88p3tQ6ie',
  publicKey: 'JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE',
};

interface RawAnswer {
  status: number;
  /** lowercase names */
  headers: Record<string, string>;
  /** the body as sent: none, for a HEAD */
  text: string;
  /** the body parsed as JSON; undefined when there is none */
  body: unknown;
}

/**
 * Writes `text` on a new connection to `url`'s host and port, as it is: no client library would send the
 * malformed requests this is for. Resolves with the answer once the node closes the connection. `halfClose`
 * (default): the client ends its side right after the request, so a request cut short is answered at once.
 */
function rawRequest(url: string, text: string, { halfClose = true } = {}): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => (halfClose ? socket.end(text) : socket.write(text)));
    socket.setTimeout(10_000, () =>
      socket.destroy(new Error(`no answer to ${JSON.stringify(text.slice(0, 60))}`)),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => {
      const answer = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = answer.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]);
      const headers = Object.fromEntries(
        headerLines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      const text = rest.join('\r\n\r\n');
      try {
        resolve({ status, headers, text, body: text === '' ? undefined : JSON.parse(text) });
      } catch {
        reject(new Error(`not a JSON answer: ${JSON.stringify(answer.slice(0, 300))}`));
      }
    });
  });
}

/**
 * The HTTP API black-box, against `bigchaindb start` run as a user runs it (embedded database, temp HOME,
 * any free port).
 */
describe('the HTTP API of a running node', () => {
  let dir: string;
  let node: NodeProcess;
  let base: string;

  const call = (method: string, path: string, body?: string): Promise<ApiAnswer> =>
    callApi(base, method, path, body);
  const post = (tx: unknown) => call('POST', '/api/v1/transactions/', JSON.stringify(tx));
  const statusOf = async (id: string) => (await call('GET', `/api/v1/transactions/${id}/status`)).body.status;
  const untilValid = (id: string) =>
    waitFor(`${id} to be valid`, async () => (await statusOf(id)) === 'valid');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bigchain-http-'));
    node = await startLoneNode(dir, 0.1);
    base = node.apiUrl.replace(/\/api\/v1$/, '');
  });
  after(async () => {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('GET / describes the node; the OpenAPI document lists every route', async () => {
    const info = await call('GET', '/');
    assert.equal(info.status, 200);
    assert.deepEqual(info.body, {
      software: 'BigchainDB',
      version: '0.6.0',
      public_key: node.keyPair.publicKey,
      keyring: [],
      api_endpoint: 'http://localhost:9984/api/v1',
    });
    const openapi = await call('GET', '/api/v1/openapi.json');
    assert.equal(openapi.body.openapi, '3.0.3');
    assert.deepEqual(Object.keys(openapi.body.paths as object).sort(), [
      '/',
      '/api/v1',
      '/api/v1/openapi.json',
      '/api/v1/transactions',
      '/api/v1/transactions/{tx_id}',
      '/api/v1/transactions/{tx_id}/status',
      '/healthz',
      '/metrics',
      '/readyz',
    ]);
    const paths = openapi.body.paths as Record<string, Record<string, unknown>>;
    for (const [path, operations] of Object.entries(paths))
      if ('get' in operations) assert.ok('head' in operations, `HEAD ${path} is documented`);
    assert.ok(!('head' in paths['/api/v1/transactions']!), 'no HEAD where there is no GET');
  });

  test('unknown routes, wrong methods, bad bodies: JSON errors with the reason', async () => {
    assert.deepEqual((await call('GET', '/api/v1/nothing')).body, { status: 404, message: 'Not found' });
    const wrongMethod = await call('DELETE', '/api/v1/transactions/abc');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD');
    assert.deepEqual((await call('GET', '/api/v1/transactions/abc')).body, {
      status: 404,
      message: '`abc` is not a transaction id (64 lowercase hex digits)',
    });
    const unknown = 'f'.repeat(64);
    for (const path of [`/api/v1/transactions/${unknown}`, `/api/v1/transactions/${unknown}/status`])
      assert.deepEqual((await call('GET', path)).body, {
        status: 404,
        message: `transaction \`${unknown}\` is unknown to this node`,
      });
    const notJson = await call('POST', '/api/v1/transactions', '{"transaction": ');
    assert.equal(notJson.status, 400);
    assert.match(String(notJson.body.message), /^the body is not valid JSON/);
    const wrongShape = await post({ id: 1 });
    assert.equal(wrongShape.status, 400);
    assert.match(String(wrongShape.body.message), /^SchemaError: /);
    const huge = await call(
      'POST',
      '/api/v1/transactions',
      JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    );
    assert.deepEqual(huge.body, { status: 413, message: 'the body is larger than 1048576 bytes' });
  });

  test('GET /api/v1 (the URL printed at start-up), with or without its slash: the node, its routes, the OpenAPI document', async () => {
    const info = (await call('GET', '/')).body;
    const openapi = (await call('GET', '/api/v1/openapi.json')).body as {
      paths: Record<string, Record<string, { summary: string; responses: Record<string, unknown> }>>;
    };
    const listed = Object.entries(openapi.paths).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, { summary }]) => ({
        method: method.toUpperCase(),
        path,
        summary,
      })),
    );
    for (const path of ['/api/v1', '/api/v1/']) {
      const index = await call('GET', path);
      assert.equal(index.status, 200, path);
      assert.deepEqual(index.body, { ...info, openapi: '/api/v1/openapi.json', routes: listed }, path);
    }
    assert.ok(openapi.paths['/api/v1']?.get?.responses['200'], 'the index is in the OpenAPI document');
    // Its links lead somewhere: every GET route without a parameter answers 200.
    for (const { method, path } of listed.filter(
      (route) => route.method === 'GET' && !route.path.includes('{'),
    ))
      assert.equal((await fetch(`${base}${path}`, { method })).status, 200, path);
  });

  test('HEAD answers every GET route as GET does (status, headers, content-length) without the body', async () => {
    const alice = generateKeyPair();
    const created = await post(
      createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
        payload: { head: 1 },
      }),
    );
    const id = String(created.body.id);
    await untilValid(id);
    const paths = [
      '/',
      '/api/v1',
      '/api/v1/',
      '/api/v1/openapi.json',
      `/api/v1/transactions/${id}`,
      `/api/v1/transactions/${id}/status`,
      `/api/v1/transactions/${'f'.repeat(64)}`,
      '/api/v1/transactions/abc',
      '/api/v1/nothing',
    ];
    for (const path of paths) {
      const get = await fetch(`${base}${path}`);
      const text = await get.text();
      // On a raw socket: a client library would not show a body sent after the headers of a HEAD answer.
      // Not half-closed: node:http drops a request whose client ends its side before the answer is ready.
      const head = await rawRequest(base, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, {
        halfClose: false,
      });
      assert.equal(head.status, get.status, path);
      assert.equal(head.text, '', `${path}: no body`);
      assert.equal(head.headers['content-length'], String(Buffer.byteLength(text)), path);
      assert.equal(head.headers['content-type'], get.headers.get('content-type'), path);
    }
    const postOnly = await rawRequest(
      base,
      'HEAD /api/v1/transactions/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(postOnly.status, 405, 'no GET there, so no HEAD');
    assert.equal(postOnly.headers.allow, 'POST');
  });

  test('GET /metrics: Prometheus text with the counters of blocks written and decided, and process metrics', async () => {
    const metrics = async () => {
      const response = await fetch(`${base}/metrics`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      return response.text();
    };
    const sample = (text: string, name: string) => {
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
      assert.ok(line, `${name} in\n${text}`);
      return Number(line.slice(name.length + 1));
    };
    const validTransactions = 'bigchaindb_block_transactions_decided_total{result="valid"}';
    const before = await metrics();
    assert.match(before, /^# TYPE bigchaindb_blocks_decided_total counter$/m);
    assert.match(before, /^# HELP bigchaindb_blocks_written_total blocks this node created and wrote$/m);
    assert.match(before, /^process_cpu_seconds_total \d/m, 'process metrics');
    assert.match(before, /^nodejs_eventloop_lag_seconds \d/m);
    const alice = generateKeyPair();
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) {
      const created = await post(
        createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
          payload: { metrics: n },
        }),
      );
      ids.push(String(created.body.id));
    }
    for (const id of ids) await untilValid(id);
    // The count follows the decision: a moment after the status reads valid.
    await waitFor('the decisions counted', async () => {
      const after = await metrics();
      return sample(after, validTransactions) >= sample(before, validTransactions) + 3;
    });
    const after = await metrics();
    assert.ok(
      sample(after, 'bigchaindb_blocks_written_total') > sample(before, 'bigchaindb_blocks_written_total'),
    );
    assert.ok(
      sample(after, 'bigchaindb_block_transactions_written_total') >=
        sample(before, 'bigchaindb_block_transactions_written_total') + 3,
    );
    assert.ok(
      sample(after, 'bigchaindb_blocks_decided_total{result="valid"}') >
        sample(before, 'bigchaindb_blocks_decided_total{result="valid"}'),
    );
    assert.equal(sample(after, 'bigchaindb_blocks_decided_total{result="invalid"}'), 0);
  });

  test('a POST body in a Content-Encoding other than identity is a 415 saying which are accepted', async () => {
    const alice = generateKeyPair();
    const tx = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE');
    const send = (encoding: string, body: Buffer | string) =>
      fetch(`${base}/api/v1/transactions/`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      });
    for (const encoding of ['gzip', 'deflate, gzip', 'br']) {
      const answer = await send(encoding, gzipSync(JSON.stringify(tx)));
      assert.equal(answer.status, 415, encoding);
      assert.equal(answer.headers.get('accept-encoding'), 'identity', encoding);
      assert.deepEqual(
        await answer.json(),
        {
          status: 415,
          message: `the body's Content-Encoding ${encoding} is not supported: send it uncompressed (identity)`,
        },
        encoding,
      );
    }
    assert.equal((await send('identity', JSON.stringify(tx))).status, 201, 'identity is no encoding');
  });

  test('a client CREATE for several owners is signed by each: one signing alone is a 400 naming the other', async () => {
    const alice = generateKeyPair();
    const bob = generateKeyPair();
    const owners = [alice.publicKey, bob.publicKey];
    const unsigned = createTransaction(owners, owners, null, 'CREATE', { payload: { shared: true } });
    const alone = (signer: typeof alice) =>
      signTransaction(unsigned, signer.privateKey, () =>
        conditionBody(new Ed25519Fulfillment(signer.publicKey)),
      );
    const rule =
      'a client CREATE is signed by every key in owners_before (for several, a fulfillment of their n-of-n threshold condition)';
    assert.deepEqual((await post(alone(alice))).body, {
      status: 400,
      message: `InvalidSignature: the CREATE is not signed by ${bob.publicKey} (owners_before.1): ${rule}`,
    });
    assert.deepEqual((await post(alone(bob))).body, {
      status: 400,
      message: `InvalidSignature: the CREATE is not signed by ${alice.publicKey} (owners_before.0): ${rule}`,
    });

    // Both sign the n-of-n threshold of their keys: the condition the node's CREATE gives them.
    const threshold = ownersCondition(owners)!;
    const both = signTransaction(unsigned, [alice.privateKey, bob.privateKey], () =>
      conditionBody(threshold),
    );
    const created = await post(both);
    assert.equal(created.status, 201);
    const asset = created.body as unknown as Transaction;
    assert.deepEqual(asset.transaction.fulfillments[0]!.owners_before, [node.keyPair.publicKey]);
    assert.deepEqual(asset.transaction.conditions[0]!.owners_after, owners);
    assert.equal(asset.transaction.conditions[0]!.condition.uri, threshold.conditionUri);
    await untilValid(asset.id);
    // Co-owned: spent with both signatures.
    const stored: Transaction = { id: asset.id, transaction: asset.transaction };
    const transfer = signTransaction(
      createTransaction(owners, generateKeyPair().publicKey, { txid: asset.id, cid: 0 }, 'TRANSFER'),
      [alice.privateKey, bob.privateKey],
      lookupInTransactions([stored]),
    );
    assert.equal((await post(transfer)).status, 201);

    const twice = [alice.publicKey, alice.publicKey];
    const doubled = signTransaction(createTransaction(twice, twice, null, 'CREATE'), alice.privateKey, () =>
      conditionBody(ownersCondition(twice)!),
    );
    assert.deepEqual((await post(doubled)).body, {
      status: 400,
      message: `OperationError: the CREATE lists owner ${alice.publicKey} twice in owners_before`,
    });
  });

  test("a client CREATE's timestamp more than max_clock_skew (600 s) from the node's clock is a 400", async () => {
    const alice = generateKeyPair();
    const at = (timestamp: string) =>
      createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
        timestamp,
        payload: { timestamp },
      });
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of ['99999999999', String(now + 700), String(now - 3600), '0']) {
      const answer = await post(at(timestamp));
      assert.equal(answer.status, 400, timestamp);
      const match = new RegExp(
        `^ClockSkewError: the transaction's timestamp ${timestamp} is (\\d+) s from the node's clock \\((\\d+)\\); at most max_clock_skew = 600 s$`,
      ).exec(String(answer.body.message));
      assert.ok(match, `${timestamp}: ${String(answer.body.message)}`);
      const [, skew, clock] = match.map(Number);
      assert.ok(Math.abs(clock! - now) <= 5, `the node's clock ${clock}, the test's ${now}`);
      assert.equal(skew, Math.abs(Number(timestamp) - clock!));
    }
    for (const timestamp of [String(now - 500), String(now + 500)])
      assert.equal((await post(at(timestamp))).status, 201, `${timestamp}: within 600 s`);
  });

  /** Runs `work`, then asserts the node logged no ERROR line meanwhile. */
  async function withoutErrorLines(work: () => Promise<void>): Promise<void> {
    const from = node.lines.length;
    await work();
    assert.deepEqual(atLevel(node.lines.slice(from), 'error'), []);
  }

  test('ids that cannot be ids (%00, undecodable) are refused before any query: 404 or 400, never 500', () =>
    withoutErrorLines(async () => {
      for (const id of ['%00', `${'a'.repeat(63)}%00`, '%00'.repeat(64)]) {
        const decoded = decodeURIComponent(id);
        for (const path of [`/api/v1/transactions/${id}`, `/api/v1/transactions/${id}/status`])
          assert.deepEqual((await call('GET', path)).body, {
            status: 404,
            message: `\`${decoded.slice(0, 100)}\` is not a transaction id (64 lowercase hex digits)`,
          });
      }
      for (const id of ['%ZZ', '%ED%A0%80', '%C0%80'])
        assert.deepEqual((await call('GET', `/api/v1/transactions/${id}/status`)).body, {
          status: 400,
          message: 'malformed URL encoding',
        });
    }));

  test('a public key that decodes to 31 bytes is a 400 naming the field; the rest of its round is admitted', () =>
    withoutErrorLines(async () => {
      const alice = generateKeyPair();
      const short = base58Encode(new Uint8Array(31).fill(7));
      const unsigned = createTransaction(short, alice.publicKey, null, 'CREATE');
      const good = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
        payload: { beside: 'a bad key' },
      });
      const [bad, fine] = await Promise.all([post(unsigned), post(good)]);
      assert.deepEqual(bad.body, {
        status: 400,
        message:
          'SchemaError: transaction.fulfillments.0.owners_before.0 is not an Ed25519 public key: it decodes to 31 bytes',
      });
      assert.equal(fine.status, 201);
    }));

  test('malformed HTTP gets a JSON {status, message} and Connection: close, as every other error', () =>
    withoutErrorLines(async () => {
      const post = (headers: string, body = '') =>
        `POST /api/v1/transactions/ HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`;
      const cases: [string, string, number, RegExp][] = [
        ['a bad request line', 'GARBAGE\r\n\r\n', 400, /^the request is not valid HTTP: Invalid method/],
        ['a negative Content-Length', post('Content-Length: -5\r\n', '{}'), 400, /Content-Length/],
        ['a non-numeric Content-Length', post('Content-Length: abc\r\n', '{}'), 400, /Content-Length/],
        [
          'two Content-Lengths',
          post('Content-Length: 2\r\nContent-Length: 3\r\n', '{}'),
          400,
          /Content-Length/,
        ],
        [
          'a header continuation line (obs-fold)',
          'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n',
          400,
          /^the request is not valid HTTP: /,
        ],
        [
          'too many headers',
          `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `h${i}: v\r\n`).join('')}\r\n`,
          431,
          /^the request headers are larger than \d+ bytes$/,
        ],
        [
          'a header too large',
          `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
          431,
          /^the request headers are larger/,
        ],
        ['a bad chunk size', post('Transfer-Encoding: chunked\r\n', 'ZZZ\r\n'), 400, /chunk size/],
        [
          'chunk extensions too large',
          post('Transfer-Encoding: chunked\r\n', `2;${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`),
          413,
          /^the chunk extensions are too large$/,
        ],
      ];
      for (const [what, text, status, message] of cases) {
        const answer = await rawRequest(base, text);
        assert.equal(answer.status, status, what);
        assert.match(answer.headers['content-type'] ?? '', /^application\/json/, what);
        assert.equal(answer.headers.connection?.toLowerCase(), 'close', what);
        const body = answer.body as { status: number; message: string };
        assert.equal(body.status, status, what);
        assert.match(body.message, message, what);
      }
      assert.equal((await call('GET', '/')).status, 200, 'the node still serves');
    }));

  test('a client that closes or resets the connection mid-body is logged below ERROR', () =>
    withoutErrorLines(async () => {
      const { hostname, port } = new URL(base);
      for (const ending of ['close', 'reset'] as const) {
        const from = node.lines.length;
        const socket = connect(Number(port), hostname);
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write(
          'POST /api/v1/transactions/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id": ',
        );
        // Long enough for the node to have the head and be reading the body.
        await new Promise((resolve) => setTimeout(resolve, 200));
        socket.on('error', () => {});
        if (ending === 'close') socket.destroy();
        else socket.resetAndDestroy();
        await waitFor(`the node to log the ${ending}`, async () =>
          node.lines.slice(from).some((line) => {
            const record = logRecord(line);
            // `http`, or `http:<n>` from an API worker process (server.workers)
            return (
              /^http(:\d+)?$/.test(record?.name ?? '') &&
              record?.msg.startsWith('POST /api/v1/transactions/ ') === true
            );
          }),
        );
      }
      assert.equal((await call('GET', '/')).status, 200, 'the node still serves');
    }));

  test('a client CREATE, its TRANSFER and a double spend; statuses move from backlog to valid', async () => {
    const alice = generateKeyPair();
    const clientCreate = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', {
      payload: { msg: 'Hello BigchainDB!' },
    });
    const forgedCreate = forged(
      clientCreate,
      createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE'),
    );
    const refused = await post(forgedCreate);
    assert.equal(refused.status, 400);
    assert.match(String(refused.body.message), /^InvalidSignature: fulfillment 0 does not validate/);

    const created = await post(clientCreate);
    assert.equal(created.status, 201);
    const create = created.body as unknown as Transaction & { assignee: string };
    // Sent again (a client retrying after a lost answer): the same node CREATE, stored once.
    const again = await post(clientCreate);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { id: create.id, transaction: create.transaction });
    assert.equal(create.assignee, node.keyPair.publicKey);
    assert.deepEqual(
      create.transaction.fulfillments[0]!.owners_before,
      [node.keyPair.publicKey],
      'signed by the node',
    );
    assert.deepEqual(create.transaction.conditions[0]!.owners_after, [alice.publicKey]);
    assert.deepEqual(create.transaction.data.payload, { msg: 'Hello BigchainDB!' });
    assert.ok(['backlog', 'undecided', 'valid'].includes(String(await statusOf(create.id))));
    await untilValid(create.id);
    const stored: Transaction = { id: create.id, transaction: create.transaction };
    assert.deepEqual((await call('GET', `/api/v1/transactions/${create.id}/`)).body, stored);
    const afterItsBlock = await post(clientCreate);
    assert.equal(afterItsBlock.status, 200, 'still the same asset once in a block, not a second one');
    assert.deepEqual(afterItsBlock.body, stored);

    const lookup = lookupInTransactions([stored]);
    const transfer = (to: string) =>
      createAndSignTx(alice.privateKey, alice.publicKey, to, { txid: create.id, cid: 0 }, 'TRANSFER', {
        lookupInputCondition: lookup,
      });
    const first = transfer(generateKeyPair().publicKey);
    assert.equal((await post(first)).status, 201);
    await untilValid(first.id);
    const second = await post(transfer(generateKeyPair().publicKey));
    assert.equal(second.status, 400);
    assert.match(String(second.body.message), new RegExp(`^DoubleSpend: .*already spent by \`${first.id}\``));
    assert.equal((await post(first)).status, 400, 'a replay is refused');
  });

  test('concurrent POSTs share admission rounds: each gets its own answer, as if sent alone', async () => {
    const alice = generateKeyPair();
    const creates = Array.from({ length: 40 }, (_, n) =>
      createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', { payload: { n } }),
    );
    const badSignature = forged(creates[0]!, creates[1]!);
    const answers = await Promise.all([...creates, badSignature].map((tx) => post(tx)));
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [...creates.map(() => 201), 400],
    );
    assert.match(String(answers[40]!.body.message), /^InvalidSignature: fulfillment 0 does not validate/);
    const made = answers
      .slice(0, 40)
      .map((answer) => answer.body as unknown as Transaction & { assignee: string });
    assert.deepEqual(
      made.map((tx) => tx.transaction.data.payload),
      creates.map((_, n) => ({ n })),
      'each answer is the node CREATE made from that request',
    );
    await Promise.all(made.map((tx) => untilValid(tx.id)));

    // The same TRANSFER three times at once: stored once (201), the copies are told it waits (200).
    const asset = made[0]!;
    const spend = (to: string) =>
      createAndSignTx(alice.privateKey, alice.publicKey, to, { txid: asset.id, cid: 0 }, 'TRANSFER', {
        lookupInputCondition: lookupInTransactions([asset]),
      });
    const once = spend(generateKeyPair().publicKey);
    const copies = await Promise.all([once, once, once].map((tx) => post(tx)));
    assert.equal(copies.filter((answer) => answer.status === 201).length, 1, 'stored once');
    for (const copy of copies.filter((answer) => answer.status !== 201)) {
      // 200: waiting in the backlog; 400 ReplayError only if a block took it between two rounds.
      if (copy.status !== 200) assert.match(String(copy.body.message), /^ReplayError: /);
    }
    await untilValid(once.id);

    // Two different spends of one output at once: in one round the second is refused as a double spend;
    // split over two rounds both wait in the backlog and the block pipeline rejects one. Either way one wins.
    const other = made[1]!;
    const spendOther = (to: string) =>
      createAndSignTx(alice.privateKey, alice.publicKey, to, { txid: other.id, cid: 0 }, 'TRANSFER', {
        lookupInputCondition: lookupInTransactions([other]),
      });
    const rivals = [spendOther(generateKeyPair().publicKey), spendOther(generateKeyPair().publicKey)];
    const answered = await Promise.all(rivals.map((tx) => post(tx)));
    for (const answer of answered.filter((answer) => answer.status !== 201)) {
      assert.equal(answer.status, 400);
      assert.match(String(answer.body.message), /^DoubleSpend: /);
    }
    const accepted = rivals.filter((_, i) => answered[i]!.status === 201);
    await waitFor('the rivals to be decided', async () => {
      const statuses = await Promise.all(accepted.map((tx) => statusOf(tx.id)));
      return statuses.every((status) => status === 'valid' || status === 'invalid');
    });
    const statuses = await Promise.all(accepted.map((tx) => statusOf(tx.id)));
    assert.equal(statuses.filter((status) => status === 'valid').length, 1, 'exactly one spend is valid');
  });

  test("the seed's HTTP API page: its examples as printed, then rebuilt under this protocol", async () => {
    // As printed, the example was made by older code (Keccak-256 id, pre-rename field names; behaviour notes
    // §1.6) and spends an input no ledger here has: refused, with the reason.
    const printed = await post(SEED_EXAMPLE);
    assert.equal(printed.status, 400);
    assert.equal(
      printed.body.message,
      `TransactionDoesNotExist: input \`${SEED_EXAMPLE.transaction.fulfillments[0].input.txid}\` does not exist in a valid block`,
    );
    assert.equal((await call('GET', `/api/v1/transactions/${SEED_EXAMPLE.id}`)).status, 404);
    assert.equal((await call('GET', `/api/v1/transactions/${SEED_EXAMPLE.id}/status`)).status, 404);

    // Rebuilt: the example's signer gets an asset from the node, then transfers it to the example's recipient
    // with the example's uuid and timestamp. The answer is the example's response with only what this
    // protocol makes different: the id (SHA3-256), the input (our CREATE), the signature and the assignee.
    const create = await post(
      createAndSignTx(SEED_USER.privateKey, SEED_USER.publicKey, SEED_USER.publicKey, null, 'CREATE'),
    );
    assert.equal(create.status, 201);
    const asset = create.body as unknown as Transaction;
    await untilValid(asset.id);
    const recipient = SEED_EXAMPLE.transaction.conditions[0].owners_after[0];
    const transfer = createAndSignTx(
      SEED_USER.privateKey,
      SEED_USER.publicKey,
      recipient,
      { txid: asset.id, cid: 0 },
      'TRANSFER',
      {
        uuid: SEED_EXAMPLE.transaction.data.uuid,
        timestamp: SEED_EXAMPLE.transaction.timestamp,
        lookupInputCondition: lookupInTransactions([asset]),
      },
    );
    const fulfillment = transfer.transaction.fulfillments[0]!.fulfillment!;
    const example: Transaction = JSON.parse(JSON.stringify(SEED_EXAMPLE)) as Transaction;
    example.id = transfer.id;
    example.transaction.fulfillments[0]!.input = { txid: asset.id, cid: 0 };
    example.transaction.fulfillments[0]!.fulfillment = fulfillment;
    // The same signer: after `cf:4:`, 42 base64 characters are the public key alone; the signature follows.
    assert.equal(fulfillment.slice(0, 47), SEED_EXAMPLE.transaction.fulfillments[0].fulfillment.slice(0, 47));

    const answer = await post(transfer);
    assert.equal(answer.status, 201);
    assert.deepEqual(answer.body, { assignee: node.keyPair.publicKey, ...example });
    await untilValid(transfer.id);
    assert.deepEqual((await call('GET', `/api/v1/transactions/${transfer.id}`)).body, example);
    assert.deepEqual((await call('GET', `/api/v1/transactions/${transfer.id}/status`)).body, {
      status: 'valid',
    });
  });

  test('fuzzed POST bodies never get a 5xx or hang, and the node stays up', async () => {
    const alice = generateKeyPair();
    const valid = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE');
    const mutated = fc
      .record({
        path: fc.array(
          fc.constantFrom(
            'transaction',
            'fulfillments',
            0,
            'fulfillment',
            'conditions',
            'data',
            'payload',
            'id',
            'operation',
            'owners_before',
            'input',
            'cid',
          ),
          { maxLength: 4 },
        ),
        value: fc.jsonValue({ maxDepth: 3 }),
      })
      .map(({ path, value }) => {
        const copy = structuredClone(valid) as unknown as Record<string | number, unknown>;
        let target: Record<string | number, unknown> = copy;
        for (const key of path.slice(0, -1)) {
          const next = target[key];
          if (typeof next !== 'object' || next === null) break;
          target = next as Record<string | number, unknown>;
        }
        target[path.at(-1) ?? 'id'] = value;
        return JSON.stringify(copy);
      });
    const bodies = fc.oneof(
      mutated,
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]',
        `{"a":${'['.repeat(5000)}`,
        '{"id": 1e999999}',
        JSON.stringify({ ...valid, transaction: { ...valid.transaction, timestamp: 1e300 } }),
        JSON.stringify({
          ...valid,
          transaction: {
            ...valid.transaction,
            fulfillments: [
              {
                ...valid.transaction.fulfillments[0],
                fulfillment: valid.transaction.fulfillments[0]!.fulfillment!.slice(0, 20),
              },
            ],
          },
        }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const answer = await call('POST', '/api/v1/transactions', body);
        assert.ok(
          answer.status < 500,
          `${answer.status} ${JSON.stringify(answer.body)} for ${body.slice(0, 200)}`,
        );
        if (answer.status >= 400) {
          assert.equal(answer.body.status, answer.status);
          assert.equal(typeof answer.body.message, 'string');
        }
      }),
      { numRuns: 300 },
    );
    assert.equal((await call('GET', '/')).status, 200);
    assert.equal(node.child.exitCode, null);
  });
});
