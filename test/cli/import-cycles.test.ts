import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'src', 'cli');

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

const cliFiles = readdirSync(CLI)
  .filter((name) => name.endsWith('.ts'))
  .map((name) => join(CLI, name));

test('src/cli has no import cycle (type-only imports included)', () => {
  assert.ok(cliFiles.includes(join(CLI, 'main.ts')), 'the CLI modules are found');
  const described = cycles(cliFiles).map((cycle) => cycle.map((file) => relative(ROOT, file)).join(' → '));
  assert.deepEqual(described, []);
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
