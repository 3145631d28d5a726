import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLoneNode, type NodeProcess } from '../support/node-process.ts';
import { ROOT, runProcess, runScript } from '../support/processes.ts';

const README_API = 'http://localhost:9984/api/v1';

/** The fenced block that follows `<!-- quick-start:NAME -->` in the README. */
async function readmeBlock(name: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const block = new RegExp(`<!-- quick-start:${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\`\`\`\\n`).exec(readme);
  assert.ok(block, `README.md has no quick-start:${name} block`);
  return block[1]!;
}

describe('README quick start, against a live node', () => {
  let dir: string;
  let node: NodeProcess;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bigchain-quick-start-'));
    node = await startLoneNode(dir);
  });
  after(async () => {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the driver block is examples/quick-start.ts, and it runs: CREATE then TRANSFER, both valid', async () => {
    const example = await readFile(join(ROOT, 'examples/quick-start.ts'), 'utf8');
    assert.equal(await readmeBlock('driver'), example);
    const result = await runScript('examples/quick-start.ts', [], {
      env: { HOME: dir, BIGCHAINDB_API_ENDPOINT: node.apiUrl },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^CREATE [0-9a-f]{64} valid\nTRANSFER [0-9a-f]{64} valid\n$/);
  });

  test('the curl block runs as written (only the node address and the script path substituted)', async () => {
    const script = (await readmeBlock('curl'))
      .replaceAll(README_API, node.apiUrl)
      // From a scratch directory rather than the repository, so the JSON files land there.
      .replaceAll(
        'npx tsx --conditions=development examples/',
        `${join(ROOT, 'node_modules/.bin/tsx')} --conditions=development ${join(ROOT, 'examples')}/`,
      );
    assert.notEqual(script, await readmeBlock('curl'));
    const result = await runProcess('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir,
      env: { HOME: dir },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\{"status":"(backlog|undecided|valid)"\}\n$/);
    const created = JSON.parse(await readFile(join(dir, 'created.json'), 'utf8')) as { id: string };
    const transferred = JSON.parse(await readFile(join(dir, 'transferred.json'), 'utf8')) as {
      transaction: {
        fulfillments: Array<{ input: { txid: string } }>;
        conditions: Array<{ owners_after: string[] }>;
      };
    };
    const bob = JSON.parse(await readFile(join(dir, 'bob.json'), 'utf8')) as { public: string };
    assert.equal(transferred.transaction.fulfillments[0]?.input.txid, created.id);
    assert.deepEqual(transferred.transaction.conditions[0]?.owners_after, [bob.public]);
  });
});
