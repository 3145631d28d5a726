import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { looksLikeSql, sourceStrings } from '../support/sql-order-check.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const SRC = join(ROOT, 'src');
const STORAGE = join(SRC, 'storage');

/** Every TypeScript file under `dir`, repository-relative, with its text. */
function sourceFiles(dir: string): { name: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
    .map((file) => ({ name: relative(ROOT, file), text: readFileSync(file, 'utf8') }));
}

/**
 * `file:line: statement` for every string literal, template or concatenation of the sources that is SQL
 * (looksLikeSql): comments are not read, and prose in messages is not SQL.
 */
function sqlStrings(files: readonly { name: string; text: string }[]): string[] {
  return files.flatMap(({ name, text }) =>
    sourceStrings(name, text)
      .filter((string) => looksLikeSql(string.text))
      .map((string) => `${name}:${string.line}: ${string.text.replace(/\s+/g, ' ').trim().slice(0, 80)}`),
  );
}

test('no SQL outside src/storage/: the rest of src/ reaches the database through named Storage queries', () => {
  const outside = sourceFiles(SRC).filter((file) => !join(ROOT, file.name).startsWith(`${STORAGE}/`));
  assert.ok(
    outside.some((file) => file.name === 'src/ops/audit.ts'),
    'the operator tools are read',
  );
  assert.ok(
    outside.some((file) => file.name.startsWith('src/cli/')),
    'the CLI is read',
  );
  assert.ok(
    outside.some((file) => file.name === 'src/node/bigchain.ts'),
    'the node is read',
  );
  assert.ok(
    outside.some((file) => file.name.startsWith('src/api/')),
    'the API is read',
  );
  assert.ok(!outside.some((file) => file.name.startsWith('src/storage/')), 'storage is left out');
  const found = sqlStrings(outside);
  assert.deepEqual(found, [], `SQL outside src/storage/:\n${found.join('\n')}`);
});

test('the scan sees the SQL where it is: src/storage/ (so the test above is not vacuous)', () => {
  const found = sqlStrings(sourceFiles(STORAGE));
  assert.ok(found.length >= 100, `only ${found.length} statements found in src/storage/`);
  for (const module of ['queries/blocks.ts', 'queries/feeds.ts', 'queries/cursor.ts']) {
    assert.ok(
      found.some((line) => line.startsWith(`src/storage/${module}:`)),
      `no statement found in ${module}`,
    );
  }
});

test('a source with SQL is reported, file and line (so the first test can fail)', () => {
  const text = [
    "import { db } from './db.ts';",
    'const COLUMNS = "id, doc";',
    'export async function sneaky(id: string) {',
    '  // SELECT id FROM blocks: a comment, not read',
    '  return db.query(`SELECT ${COLUMNS}',
    '    FROM blocks WHERE id = $1`, [id]);',
    '}',
    "await db.query('UPDATE blocks b SET status = $1', ['valid']);",
    "await db.query('DELETE FROM votes');",
    "await db.query('INSERT INTO backlog (tx_id) VALUES ($1)');",
    "await db.query('TRUNCATE transactions, outputs');",
    "await db.query('REINDEX TABLE blocks');",
    "await db.query('LOCK TABLE blocks IN EXCLUSIVE MODE');",
    "await db.query('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE');",
    "await db.query('DECLARE c NO SCROLL CURSOR FOR ' + query);",
    "await db.query('FETCH FORWARD 10 FROM c');",
    "await db.query(`ALTER SYSTEM SET synchronous_standby_names = '${names}'`);",
    "await db.query('SHOW synchronous_commit');",
    "await db.query('CREATE TABLE t (id text)');",
    "await db.query('ALTER TABLE blocks ADD COLUMN voters text');",
    "await db.query('DROP TABLE IF EXISTS t');",
    "await db.query('select doc from votes where voter = $1');",
  ].join('\n');
  const found = sqlStrings([{ name: 'src/node/sneaky.ts', text }]);
  assert.deepEqual(
    found.map((line) => line.split(': ')[0]),
    [5, ...Array.from({ length: 15 }, (_, i) => 8 + i)].map((line) => `src/node/sneaky.ts:${line}`),
    found.join('\n'),
  );
  assert.equal(found[0], 'src/node/sneaky.ts:5: SELECT id, doc FROM blocks WHERE id = $1');
});

test('prose is not SQL: messages, HTTP methods and comments are not reported', () => {
  const text = [
    '// SELECT id FROM blocks WHERE id = $1, in a comment',
    '/** DELETE FROM backlog: the documentation of a function */',
    "const a = 'select a block from the list';",
    "const b = 'Select the blocks from the last hour, then update the status set by the vote';",
    "const c = 'DELETE';",
    "const d = { method: 'UPDATE', op: 'CREATE' };",
    'const e = `Drop the database ${name}? [y/n]: `;',
    "const f = 'A CREATE operation has no inputs';",
    "const g = 'show-config';",
    "const h = 'the transaction was set aside: fetch it again from the node';",
    "const i = 'Do you want to drop the table? Show the help';",
  ].join('\n');
  assert.deepEqual(sqlStrings([{ name: 'src/node/innocent.ts', text }]), []);
});
