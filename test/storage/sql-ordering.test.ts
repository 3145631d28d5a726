import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import ts from 'typescript';
import { PostgresDriver } from '../../src/storage/postgres-driver.ts';
import { startPostgres, type PostgresServer } from '../support/postgres.ts';
import { checkSources, sourceStrings, sqlOrderProblems } from '../support/sql-order-check.ts';
import { ROOT } from '../support/processes.ts';

/** Every .ts file under the given directories of the repository, as repository-relative paths. */
function typescriptFiles(...directories: string[]): string[] {
  const files: string[] = [];
  const walk = (directory: string) => {
    for (const entry of readdirSync(join(ROOT, directory)).sort()) {
      const path = join(directory, entry);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) files.push(path);
    }
  };
  for (const directory of directories) walk(directory);
  return files;
}

const SOURCES = ['src', 'bench'];

// The statements that picked "the last valid block" and paged the status check and the election's
// catch-up, as they were at 43dda78 (issue 12: restore and prune deleted valid blocks).
const BEFORE_THE_FIX = {
  prune: `SELECT id, seq::text AS seq FROM blocks
       WHERE status = 'valid' OR id = (SELECT value FROM bigchaindb_meta WHERE key = 'genesis_block')
       ORDER BY seq DESC LIMIT 1`,
  checkStatuses: `SELECT id, seq::text AS seq, status, (doc::json #> '{block,voters}')::text AS voters FROM blocks
       WHERE seq > $1::bigint ORDER BY seq LIMIT $2`,
  undecidedBlocks: `SELECT id, seq::text AS seq FROM blocks WHERE status = 'undecided' AND seq > $1::bigint
       ORDER BY seq LIMIT $2`,
};

describe('the text-ordering check (test/support/sql-order-check.ts)', () => {
  test("flags the issue's statement and passes its qualified form", () => {
    const sql = "SELECT id, seq::text AS seq FROM blocks WHERE status = 'valid' ORDER BY seq DESC LIMIT 1";
    const [problem, ...more] = sqlOrderProblems(sql);
    assert.deepEqual(more, []);
    assert.equal(problem?.offset, sql.indexOf('ORDER BY seq') + 'ORDER BY '.length, 'at the ORDER BY item');
    assert.match(problem.message, /^ORDER BY seq sorts by the output column "seq" \(seq::text AS seq\)/);
    assert.match(problem.message, /a cast of the column seq to its own name/);
    assert.deepEqual(sqlOrderProblems('SELECT b.id, b.seq::text AS seq FROM blocks b ORDER BY b.seq'), []);
  });

  test('flags each statement as it was before the fix: the ORDER BY, and the bare name compared for paging', () => {
    for (const [name, sql] of Object.entries(BEFORE_THE_FIX)) {
      const problems = sqlOrderProblems(sql);
      const orderBy = problems.filter((p) => p.message.startsWith('ORDER BY seq sorts by the output column'));
      assert.equal(orderBy.length, 1, `${name}: ${JSON.stringify(problems)}`);
      assert.equal(sql.slice(orderBy[0]!.offset, orderBy[0]!.offset + 3), 'seq', name);
      const paging = problems.filter((p) => p.message.startsWith('a comparison on the bare name seq'));
      assert.equal(paging.length, name === 'prune' ? 0 : 1, `${name}: ${JSON.stringify(problems)}`);
    }
  });

  test('the other shapes of the pattern', () => {
    const flagged = (sql: string) => sqlOrderProblems(sql).map((p) => p.message);
    // An ordinal, an implicit name (a cast column keeps its name), CAST, varchar, no AS, parentheses.
    assert.match(flagged('SELECT id, seq::text AS s FROM blocks ORDER BY 2')[0] ?? '', /^ORDER BY 2 sorts/);
    assert.match(flagged('SELECT seq::text FROM blocks ORDER BY seq DESC')[0] ?? '', /output column "seq"/);
    assert.match(
      flagged('SELECT CAST(seq AS varchar(20)) AS seq FROM blocks ORDER BY seq')[0] ?? '',
      /"seq"/,
    );
    assert.match(flagged('SELECT seq::character varying AS s FROM blocks ORDER BY s')[0] ?? '', /"s"/);
    assert.match(flagged('SELECT seq::text seq FROM blocks ORDER BY (seq)')[0] ?? '', /"seq"/);
    // A derived table or CTE passes its text on, however it is qualified.
    assert.match(
      flagged('SELECT id FROM (SELECT id, seq::text AS seq FROM blocks) s ORDER BY s.seq')[0] ?? '',
      /a text column of a derived table or CTE/,
    );
    assert.match(
      flagged('WITH s AS (SELECT id, seq::text AS seq FROM blocks) SELECT id FROM s WHERE seq > $1')[0] ?? '',
      /^a comparison on seq, a text column of a derived table or CTE/,
    );
    // Sorting or paging on a cast to text directly, also inside an aggregate; a row comparison.
    assert.match(flagged('SELECT id FROM blocks ORDER BY seq::text')[0] ?? '', /a value cast to text/);
    assert.match(
      flagged("SELECT string_agg(id, ',' ORDER BY seq::text) FROM blocks")[0] ?? '',
      /cast to text/,
    );
    assert.match(
      flagged('SELECT id FROM blocks WHERE seq::text > $1')[0] ?? '',
      /^a comparison on a value cast/,
    );
    assert.match(
      flagged('SELECT xid::text AS xid, seq::text AS seq FROM blocks WHERE (xid, seq) > ($1, $2)')[0] ?? '',
      /^a comparison on the bare name xid/,
    );
    // Any cast of a column to its own name, sorted by that bare name: not the column's order.
    assert.match(
      flagged('SELECT created::date AS created FROM t ORDER BY created')[0] ?? '',
      /a cast of the column to its own name, not by the column/,
    );
  });

  test('passes what sorts by the column itself', () => {
    const clean = [
      // Qualified, or an expression: ORDER BY sees the input column.
      'SELECT b.id, b.seq::text AS seq FROM blocks b WHERE b.seq > $1::bigint ORDER BY b.seq LIMIT $2',
      'SELECT id, seq::text AS seq FROM blocks ORDER BY seq + 0',
      'SELECT id, seq::text AS s FROM blocks ORDER BY seq',
      // An aggregate's ORDER BY sees only input columns.
      'SELECT (array_agg(id ORDER BY seq DESC))[1] AS id, max(seq)::text AS seq FROM blocks',
      // Text parameters and literals, numbers as text nobody sorts, the feed queries.
      "SELECT id FROM blocks WHERE id > $1::text AND status = 'valid'::text ORDER BY id",
      'SELECT pg_database_size(current_database())::text AS bytes',
      `SELECT f.xid::text AS feed_xid, f.seq::text AS feed_seq, f.id FROM blocks f
       WHERE (f.xid, f.seq) > ($1::xid8, $2::bigint) ORDER BY f.xid, f.seq LIMIT $3`,
      // Not SQL that runs: a string, a comment, an operator next to a minus.
      "SELECT 'ORDER BY seq', a>-1 FROM t -- ORDER BY seq",
      'WITH deleted AS (DELETE FROM blocks WHERE seq > $1::bigint RETURNING id, seq) SELECT id FROM deleted ORDER BY seq',
    ];
    for (const sql of clean) assert.deepEqual(sqlOrderProblems(sql), [], sql);
  });

  test('reads whole statements out of TypeScript: templates with constants inlined, concatenations, lines', () => {
    const source = [
      "const COLUMNS = 'id, seq::text AS seq';",
      'async function f(db, after) {',
      '  await db.query(`SELECT ${COLUMNS} FROM blocks',
      '     WHERE status = ${"\'valid\'"}',
      '     ORDER BY seq LIMIT 1`);',
      "  await db.query('SELECT b.id, b.seq::text AS seq FROM blocks b ' +",
      "    'ORDER BY seq');",
      '}',
    ].join('\n');
    const strings = sourceStrings('example.ts', source).filter((s) => s.text.startsWith('SELECT'));
    assert.deepEqual(
      strings.map((s) => s.text.replace(/\s+/g, ' ')),
      [
        "SELECT id, seq::text AS seq FROM blocks WHERE status = 'valid' ORDER BY seq LIMIT 1",
        'SELECT b.id, b.seq::text AS seq FROM blocks b ORDER BY seq',
      ],
    );
    const { problems, statements } = checkSources([{ name: 'example.ts', text: source }]);
    assert.equal(statements, 2);
    assert.deepEqual(
      problems.map((p) => p.split(': ')[0]),
      ['example.ts:5', 'example.ts:7'],
    );
  });
});

describe('the check agrees with PostgreSQL', () => {
  let server: PostgresServer;
  let driver: PostgresDriver;
  before(async () => {
    server = await startPostgres();
    driver = new PostgresDriver({
      host: server.host,
      port: server.port,
      name: server.database,
      user: server.user,
    });
    await driver.exec(
      `CREATE TABLE blocks (id text, seq bigint);
       INSERT INTO blocks SELECT 'b' || g, g FROM generate_series(1, 12) AS g;`,
    );
  });
  after(async () => {
    await driver.close();
    await server.stop();
  });

  test('a statement is flagged exactly when PostgreSQL answers it in text order (block 9 last, not 12)', async () => {
    const statements = [
      'SELECT id, seq::text AS seq FROM blocks ORDER BY seq DESC LIMIT 1',
      'SELECT b.id, b.seq::text AS seq FROM blocks b ORDER BY b.seq DESC LIMIT 1',
      'SELECT id, seq::text FROM blocks ORDER BY seq DESC LIMIT 1',
      'SELECT id, seq::text seq FROM blocks ORDER BY seq DESC LIMIT 1',
      'SELECT id, seq::text AS s FROM blocks ORDER BY 2 DESC LIMIT 1',
      'SELECT id, seq::text AS s FROM blocks ORDER BY seq DESC LIMIT 1',
      'SELECT id, CAST(seq AS varchar(20)) AS seq FROM blocks ORDER BY seq DESC LIMIT 1',
      'SELECT id, seq::character varying AS seq FROM blocks ORDER BY seq DESC LIMIT 1',
      'SELECT id, (seq)::text AS seq FROM blocks ORDER BY (seq) DESC LIMIT 1',
      'SELECT id, seq::text AS seq FROM blocks ORDER BY seq + 0 DESC LIMIT 1',
      'SELECT id FROM (SELECT id, seq::text AS seq FROM blocks) s ORDER BY s.seq DESC LIMIT 1',
      'WITH s AS (SELECT id, seq::text AS seq FROM blocks) SELECT id FROM s ORDER BY seq DESC LIMIT 1',
      'SELECT id FROM blocks ORDER BY seq::text DESC LIMIT 1',
      'SELECT (array_agg(id ORDER BY seq DESC))[1] AS id, max(seq)::text AS seq FROM blocks',
      'SELECT (array_agg(id ORDER BY seq::text DESC))[1] AS id FROM blocks',
    ];
    for (const sql of statements) {
      const [row] = await driver.query<{ id: string }>(sql);
      const textOrder = row?.id === 'b9';
      assert.ok(textOrder || row?.id === 'b12', `${sql}: ${row?.id}`);
      assert.equal(sqlOrderProblems(sql).length > 0, textOrder, `${sql}: PostgreSQL answered ${row?.id}`);
    }
  });
});

describe('src/ and bench/', () => {
  test('no SQL statement orders, pages or compares on a value cast to text', () => {
    const files = typescriptFiles(...SOURCES).map((name) => ({
      name,
      text: readFileSync(join(ROOT, name), 'utf8'),
    }));
    const { problems, statements } = checkSources(files);
    assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
    // Not vacuous: it saw the repository's SQL, the catch-up and restore-rule queries among it.
    assert.ok(statements >= 100, `only ${statements} statements found`);
    const all = files.flatMap((file) => sourceStrings(file.name, file.text).map((s) => s.text));
    for (const statement of [
      /FROM blocks\b[\s\S]*'undecided'[\s\S]*ORDER BY[\s\S]*LIMIT/, // the election's catch-up
      /FROM blocks\b[\s\S]*'valid'[\s\S]*ORDER BY[\s\S]*DESC LIMIT 1/, // the restore rule's last valid block
    ]) {
      assert.ok(
        all.some((text) => statement.test(text)),
        `a statement like ${statement}`,
      );
    }
  });

  test('no SQL statement gives a column cast to text the column’s own name', () => {
    // Such an alias shadows the column for every later ORDER BY, cursor or comparison of the same name.
    const selfNamed = /\b(?:\w+\.)?(\w+)::(?:text|varchar)\s+AS\s+\1\b/gi;
    const found = typescriptFiles(...SOURCES).flatMap((name) =>
      sourceStrings(name, readFileSync(join(ROOT, name), 'utf8')).flatMap((string) =>
        [...string.text.matchAll(selfNamed)].map(
          (match) => `${name}:${string.lineAt(match.index)}: ${match[0]}`,
        ),
      ),
    );
    assert.deepEqual(found, []);
  });

  test('no TypeScript compares strings with < > <= >=, or sorts strings in default (code unit) order', () => {
    const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
    const files = typescriptFiles(...SOURCES).map((name) => join(ROOT, name));
    const program = ts.createProgram(files, { ...options, noEmit: true });
    const checker = program.getTypeChecker();
    const isString = (node: ts.Node) => {
      const type = checker.getTypeAtLocation(node);
      const parts = type.isUnion() ? type.types : [type];
      return parts.some((part) => (part.flags & ts.TypeFlags.StringLike) !== 0);
    };
    const isStringArray = (node: ts.Node) => {
      const type = checker.getTypeAtLocation(node);
      const element = checker.isArrayType(type)
        ? checker.getTypeArguments(type as ts.TypeReference)[0]
        : undefined;
      return element !== undefined && (element.flags & ts.TypeFlags.StringLike) !== 0;
    };
    const relational = new Set([
      ts.SyntaxKind.LessThanToken,
      ts.SyntaxKind.GreaterThanToken,
      ts.SyntaxKind.LessThanEqualsToken,
      ts.SyntaxKind.GreaterThanEqualsToken,
    ]);
    // Where code-unit order is the point (canonical JSON's key order), the line before says so.
    const meansCodeUnitOrder = (file: ts.SourceFile, node: ts.Node) => {
      const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const previous = file.text.split('\n')[line - 1] ?? '';
      return /^\s*\/\/ code-unit order: /.test(previous);
    };
    const found: string[] = [];
    for (const file of program.getSourceFiles()) {
      if (!files.includes(file.fileName)) continue;
      const where = (node: ts.Node) =>
        `${relative(ROOT, file.fileName)}:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}`;
      const visit = (node: ts.Node): void => {
        if (
          ts.isBinaryExpression(node) &&
          relational.has(node.operatorToken.kind) &&
          (isString(node.left) || isString(node.right)) &&
          !meansCodeUnitOrder(file, node)
        ) {
          found.push(`${where(node)}: ${node.getText(file)} compares strings: '9' > '10'`);
        }
        // A default sort compares code units. Property names (Object.keys) are the one legitimate use here:
        // canonical JSON and stable listings order keys that way on purpose.
        if (
          ts.isCallExpression(node) &&
          ts.isPropertyAccessExpression(node.expression) &&
          ['sort', 'toSorted'].includes(node.expression.name.text) &&
          node.arguments.length === 0 &&
          isStringArray(node.expression.expression) &&
          !/^Object\.keys\(/.test(node.expression.expression.getText(file))
        ) {
          found.push(`${where(node)}: ${node.getText(file)} sorts strings by code unit: '9' > '10'`);
        }
        ts.forEachChild(node, visit);
      };
      visit(file);
    }
    assert.deepEqual(found, [], `\n${found.join('\n')}`);
  });
});
