import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { nodeDatabase, type PostgresServer, startPostgres } from '../support/postgres.ts';
import { ROOT, runScript, type ProcessResult } from '../support/processes.ts';

const EXAMPLE = join(ROOT, 'examples/server-api.ts');
/** The page's timeout and escrow demonstrations wait 12 s each; the rest takes a few seconds on a 2-core box. */
const RUN_TIMEOUT_MS = 240_000;
/** Fast blocks: the first transaction of a block waits 0.2 s for more. */
const SETTINGS = { block_timeout: 0.2 };

/** Runs the example as `npm run example:server-api` does, with its own HOME and nothing else inherited but PATH. */
function runExample(args: string[], home: string): Promise<ProcessResult> {
  return runScript(EXAMPLE, args, { env: { HOME: home }, timeoutMs: RUN_TIMEOUT_MS });
}

function nodeConfig(keyPair: { publicKey: string; privateKey: string }, database: Record<string, unknown>) {
  return { keypair: { public: keyPair.publicKey, private: keyPair.privateKey }, database, ...SETTINGS };
}

/** The lines every successful run prints: one per outcome the page describes. */
function assertPageOutcomes(result: ProcessResult): void {
  const { stdout } = result;
  assert.equal(
    result.code,
    0,
    `exit ${result.code}\n--- stderr ---\n${result.stderr}\n--- stdout ---\n${stdout}`,
  );
  assert.match(stdout, /^=== Create a Digital Asset ===$/m);
  assert.match(stdout, /^txRetrieved = \{\n {4}"id": "[0-9a-f]{64}",/m);
  assert.match(stdout, /"msg": "Hello BigchainDB!"/);
  assert.match(
    stdout,
    /^DoubleSpend: input `\{"txid":"[0-9a-f]{64}","cid":0\}` was already spent by `[0-9a-f]{64}`$/m,
  );
  assert.match(stdout, /^the node rejected it: DoubleSpend: input /m);
  assert.match(stdout, /^ownedMimoInputs\.length: 3$/m);
  assert.match(stdout, /"uri": "cc:0:3:nsW2IiYgk9EUtsg4uBe3pBnOgRoAEX2IIsPgjqZz47U:17"/);
  assert.match(stdout, /^with the wrong secret: InvalidSignature: /m);
  assert.match(stdout, /"fulfillment": "cf:0:bXVjaCBzZWNyZXQhIHdvdyE"/);
  assert.match(stdout, /^tx_timeout valid: true \(\d+s to timeout\)$/m);
  assert.match(stdout, /^tx_timeout valid: false \(-?\d+s to timeout\)$/m);
  assert.match(stdout, /^tx_execute valid: true - tx_abort valid false \(\d+s to timeout\)$/m);
  assert.match(stdout, /^tx_execute valid: false - tx_abort valid true \(-?\d+s to timeout\)$/m);
  assert.match(stdout, /^executing after the expiry: InvalidSignature: /m);
  assert.match(stdout, /^aborting an escrow executed in time: DoubleSpend: /m);
  assert.match(stdout, /\nEvery outcome the page describes was checked\.\n$/);
}

// The two runs spend most of their time waiting for the page's 12 s expiries, so they run side by side.
describe(
  'examples/server-api.ts: the seed\'s "Python Server API by Example" against a live node',
  { concurrency: true },
  () => {
    test(
      'embedded backend (config in $HOME/.bigchaindb): the script runs the node pipelines itself',
      { timeout: RUN_TIMEOUT_MS + 30_000 },
      async () => {
        const home = await mkdtemp(join(tmpdir(), 'bigchain-example-'));
        try {
          const dataDir = join(home, 'data');
          const config = nodeConfig(generateKeyPair(), { backend: 'embedded', path: dataDir });
          await writeFile(join(home, '.bigchaindb'), JSON.stringify(config));
          const result = await runExample([], home);
          assertPageOutcomes(result);
          assert.match(
            result.stdout,
            new RegExp(
              `^Running the node pipelines in this process on the embedded database in ${dataDir}$`,
              'm',
            ),
          );
          assert.equal(
            existsSync(join(dataDir, 'bigchaindb.lock')),
            false,
            'the database is closed at the end',
          );
        } finally {
          await rm(home, { recursive: true, force: true });
        }
      },
    );

    describe('postgresql backend', () => {
      let server: PostgresServer;
      let dir: string;
      let node: NodeProcess | undefined;

      before(async () => {
        server = await startPostgres();
        dir = await mkdtemp(join(tmpdir(), 'bigchain-example-pg-'));
      });
      after(async () => {
        await node?.stop('SIGKILL');
        await server?.stop();
        if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      });

      test(
        'against a separate `bigchaindb start` node process on the same database; without it, a clear error',
        { timeout: RUN_TIMEOUT_MS + 60_000 },
        async () => {
          const keyPair = generateKeyPair();
          const database = nodeDatabase(server, 'server_api_example');
          node = await startNodeProcess({ dir, keyPair, keyring: [], database, settings: SETTINGS });
          const configPath = join(dir, 'example.json');
          await writeFile(configPath, JSON.stringify(nodeConfig(keyPair, database)));

          const result = await runExample(['-c', configPath], dir);
          assertPageOutcomes(result);
          assert.match(
            result.stdout,
            /^Using the node that runs on the PostgreSQL database `server_api_example` on 127\.0\.0\.1:\d+$/m,
          );

          assert.equal(await node.stop('SIGTERM'), 0, node.lines.join('\n'));
          node = undefined;
          const alone = await runExample(['-c', configPath, '--wait', '2'], dir);
          assert.equal(alone.code, 1, alone.stdout);
          assert.match(
            alone.stderr,
            /^server-api example: timed out after 2 s waiting for a transaction to be in a valid block\. Nothing processed the transactions written to the PostgreSQL database `server_api_example` on 127\.0\.0\.1:\d+: is a node running on it\? Start one with `bigchaindb -c .*example\.json start`/,
          );
        },
      );
    });
  },
);
