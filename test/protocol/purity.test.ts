import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundleForBrowser } from '../support/browser-bundle.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

test('bigchaindb/protocol bundles for a browser with nothing of Node: no node: module, process, file system or dynamic import', async () => {
  // Platform browser: a node: import would not resolve, and the build would fail.
  const { inputs } = await bundleForBrowser('src/protocol/index.ts');
  const ownInputs = inputs.filter((file) => file.startsWith('src/'));
  assert.ok(ownInputs.includes('src/protocol/consensus.ts'), ownInputs.join('\n'));
  assert.ok(ownInputs.includes('src/protocol/crypto-noble.ts'), 'the browser crypto backend');
  assert.deepEqual(
    ownInputs.filter((file) => !file.startsWith('src/protocol/')),
    [],
    'the protocol imports nothing outside it',
  );
  for (const file of ownInputs) {
    const source = await readFile(join(ROOT, file), 'utf8');
    const code = source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''); // comments may mention anything
    assert.doesNotMatch(code, /\bprocess\s*\./, `${file} reads process`);
    assert.doesNotMatch(code, /\bimport\s*\(/, `${file} has a dynamic import`);
    assert.doesNotMatch(code, /\brequire\s*\(/, `${file} requires`);
    assert.doesNotMatch(code, /from\s+['"]node:/, `${file} imports a node: module`);
  }
});
