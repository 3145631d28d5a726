import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = new URL('../..', import.meta.url).pathname;
const SRC = join(ROOT, 'src');

/** Every relative import of a file, type-only ones and re-exports included, as absolute paths. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name));
}

/** The import cycles among `files`, each as the list of its files (the first repeated at the end). */
function cycles(files: readonly string[], imports: (file: string) => string[] = importsOf): string[][] {
  const inside = new Set(files);
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of imports(file).filter((imported) => inside.has(imported))) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

/** Every TypeScript file under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

const srcFiles = sourceFiles(SRC);

/** The layer of a file under src/: its first folder (`protocol`, `storage`, …), or `index.ts`. */
function layerOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

/**
 * What each layer may import from the others, bottom up (README "Layout"): the protocol is pure, storage
 * knows only the protocol, the node composes both, the API is transport over the node's public classes,
 * the operator tools (ops) work on storage with the protocol's checks (and the node's worker pool), the
 * driver is a client of the wire format only, the CLI on top.
 */
const ALLOWED: Record<string, (target: string) => boolean> = {
  protocol: (target) => layerOf(target) === 'protocol',
  storage: (target) => ['protocol', 'storage'].includes(layerOf(target)),
  config: (target) => ['protocol', 'config'].includes(layerOf(target)) || target.endsWith('storage/open.ts'),
  node: (target) => ['protocol', 'storage', 'config', 'node'].includes(layerOf(target)),
  ops: (target) =>
    ['protocol', 'storage', 'ops'].includes(layerOf(target)) || target.endsWith('node/verify-pool.ts'),
  api: (target) =>
    ['protocol', 'config', 'api'].includes(layerOf(target)) ||
    target.endsWith('storage/errors.ts') ||
    NODE_PUBLIC.some((name) => target.endsWith(`node/${name}`)),
  driver: (target) => ['protocol', 'driver'].includes(layerOf(target)),
  cli: () => true,
  // The `bigchaindb` entry point: the server API (the node, its storage and configuration) and the protocol.
  'index.ts': (target) => ['protocol', 'storage', 'config', 'node'].includes(layerOf(target)),
};

/**
 * The node's modules the API may use: the classes it serves, the logger and metrics it shares, and where the
 * modules its worker processes run live.
 */
const NODE_PUBLIC = [
  'bigchain.ts',
  'node.ts',
  'admission.ts',
  'log.ts',
  'metrics.ts',
  'verify-pool.ts',
  'verified-signatures.ts',
  'entry-points.ts',
];

/** The imports among `files` that break the layer rules, as `from → to`. */
function layerViolations(
  files: readonly string[],
  imports: (file: string) => string[] = importsOf,
): string[] {
  return files.flatMap((file) => {
    const allowed = ALLOWED[layerOf(file)] ?? (() => false);
    return imports(file)
      .filter((target) => !allowed(target))
      .map((target) => `${relative(ROOT, file)} → ${relative(ROOT, target)}`);
  });
}

test('src/ has no import cycle (type-only imports included)', () => {
  assert.ok(srcFiles.includes(join(SRC, 'cli', 'main.ts')), 'the modules are found');
  assert.ok(srcFiles.includes(join(SRC, 'protocol', 'cc', 'index.ts')), 'nested folders too');
  const described = cycles(srcFiles).map((cycle) => cycle.map((file) => relative(ROOT, file)).join(' → '));
  assert.deepEqual(described, []);
});

test('every import follows the layers: protocol → storage → node → api / driver → cli', () => {
  assert.deepEqual(layerViolations(srcFiles), []);
});

test('the layer check finds an import that goes back up (so the test above can fail)', () => {
  const graph: Record<string, string[]> = {
    [join(SRC, 'protocol/block.ts')]: [join(SRC, 'storage/storage.ts')],
    [join(SRC, 'storage/storage.ts')]: [join(SRC, 'protocol/block.ts'), join(SRC, 'node/log.ts')],
    [join(SRC, 'api/server.ts')]: [join(SRC, 'node/bigchain.ts'), join(SRC, 'node/block-builder.ts')],
  };
  assert.deepEqual(
    layerViolations(Object.keys(graph), (file) => graph[file] ?? []),
    [
      'src/protocol/block.ts → src/storage/storage.ts',
      'src/storage/storage.ts → src/node/log.ts',
      'src/api/server.ts → src/node/block-builder.ts',
    ],
  );
});

test('the cycle finder finds a cycle (so the test above can fail)', () => {
  // As before: main.ts defined CliError and the command modules imported it back from there.
  const graph: Record<string, string[]> = {
    'main.ts': ['config-commands.ts', 'errors.ts'],
    'config-commands.ts': ['main.ts'],
    'errors.ts': [],
  };
  assert.deepEqual(
    cycles(Object.keys(graph), (file) => graph[file] ?? []),
    [['main.ts', 'config-commands.ts', 'main.ts']],
  );
});

test('the import reader sees type-only imports, re-exports and dynamic imports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bigchain-imports-'));
  try {
    const file = join(dir, 'a.ts');
    writeFileSync(
      file,
      "import type { B } from './b.ts';\nexport * from './c.ts';\nconst d = await import('./d.ts');\nimport 'node:fs';\n",
    );
    assert.deepEqual(
      importsOf(file),
      ['b.ts', 'c.ts', 'd.ts'].map((name) => join(dir, name)),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
