import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLoneNode, type NodeProcess } from '../support/node-process.ts';
import { ROOT, runScript, type ProcessResult } from '../support/processes.ts';

const EXAMPLE = join(ROOT, 'examples/driver.ts');

/** Runs the example as `npm run example:driver` does, with its own HOME and nothing else inherited but PATH. */
function runExample(args: string[], home: string): Promise<ProcessResult> {
  return runScript(EXAMPLE, args, { env: { HOME: home }, timeoutMs: 120_000 });
}

describe('examples/driver.ts (the seed’s "Python Driver API by Example")', () => {
  let dir: string;
  let node: NodeProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bigchain-driver-example-'));
    node = await startLoneNode(dir);
  });
  after(async () => {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('runs the page against a live node and checks every outcome', async () => {
    const result = await runExample(['--api', node.apiUrl, '--wait', '30'], dir);
    assert.equal(
      result.code,
      0,
      `exit ${result.code}\n--- stderr ---\n${result.stderr}\n--- stdout ---\n${result.stdout}`,
    );
    const { stdout } = result;
    assert.match(
      stdout,
      new RegExp(`^Using the node ${node.keyPair.publicKey} \\(BigchainDB 0\\.6\\.0\\)`, 'm'),
    );
    assert.match(stdout, /^tx1 = \{\n {4}"id": "[0-9a-f]{64}",/m);
    assert.match(stdout, new RegExp(`"assignee": "${node.keyPair.publicKey}"`));
    assert.match(stdout, /"operation": "CREATE"/);
    assert.match(stdout, /^c1\.transfer\(c2\.publicKey, \{ txid: tx1\.id, cid: 0 \}\) = \{/m);
    assert.match(stdout, /"operation": "TRANSFER"/);
    assert.equal([...stdout.matchAll(/^status of [0-9a-f]{64}: valid$/gm)].length, 2);
    assert.match(stdout, /^Every outcome the page shows was checked\.$/m);
  });

  test('an unreachable node or a bad argument: exit 1 with a one-line reason', async () => {
    const unreachable = await runExample(['--api', 'http://127.0.0.1:1/api/v1'], dir);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^driver example: NetworkError: GET http:\/\/127\.0\.0\.1:1\/ failed: /);
    const usage = await runExample(['--api'], dir);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /^driver example: usage: npm run example:driver/);
  });
});
