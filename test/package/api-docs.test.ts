/**
 * The public API's documentation, read the way an editor shows it: every function and class the package's
 * entry points export has a JSDoc summary, and every `@example` in the JSDoc of what they export compiles
 * (strict TypeScript, each example a module of its own that imports what it uses from the package).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

const ROOT = new URL('../..', import.meta.url).pathname;
const ENTRIES = ['src/index.ts', 'src/protocol/index.ts', 'src/driver/index.ts'].map((entry) =>
  join(ROOT, entry),
);
const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: ['node'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  allowImportingTsExtensions: true,
  // The package's self-references (`bigchaindb`, `bigchaindb/driver`) resolve to the sources.
  customConditions: ['development'],
};

interface PublicSymbol {
  name: string;
  file: string;
  symbol: ts.Symbol;
}

/** The functions and classes the entry points export, and every exported symbol with its members. */
function publicApi(): { program: ts.Program; callables: PublicSymbol[]; documented: PublicSymbol[] } {
  const program = ts.createProgram(ENTRIES, OPTIONS);
  const checker = program.getTypeChecker();
  const callables = new Map<ts.Symbol, PublicSymbol>();
  const documented = new Map<ts.Symbol, PublicSymbol>();
  for (const entry of ENTRIES) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const file = symbol.declarations?.[0]?.getSourceFile().fileName.replace(ROOT, '') ?? '?';
      const item = { name: symbol.getName(), file, symbol };
      if (symbol.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class)) callables.set(symbol, item);
      documented.set(symbol, item);
      for (const member of [...(symbol.members?.values() ?? []), ...(symbol.exports?.values() ?? [])])
        documented.set(member, { name: `${item.name}.${member.getName()}`, file, symbol: member });
    }
  }
  return { program, callables: [...callables.values()], documented: [...documented.values()] };
}

const { program, callables, documented } = publicApi();
const checker = program.getTypeChecker();

/** The code of each ```ts block in the symbol's @example tags. */
function examplesOf(symbol: ts.Symbol): string[] {
  return symbol
    .getJsDocTags(checker)
    .filter((tag) => tag.name === 'example')
    .flatMap((tag) => {
      const text = ts.displayPartsToString(tag.text);
      return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
    });
}

describe('the public API documentation', () => {
  test('every exported function and class has a JSDoc summary', () => {
    assert.ok(callables.length > 100, `only ${callables.length} exported functions and classes found`);
    const undocumented = callables
      .filter(({ symbol }) => ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() === '')
      .map(({ name, file }) => `${name} (${file})`);
    assert.deepEqual(undocumented, []);
  });

  test('every @example compiles, strict, importing only from the package', () => {
    const examples = documented.flatMap(({ name, file, symbol }) =>
      examplesOf(symbol).map((code, i) => ({ name: `${name}#${i + 1}`, file, code })),
    );
    for (const main of ['Bigchain.open', 'BigchainNode', 'openStorage', 'Client', 'createAndSignTx'])
      assert.ok(
        examples.some((example) => example.name.startsWith(`${main}#`)),
        `${main} has an @example`,
      );
    // Beside the sources, so that `bigchaindb` resolves as from a file of the package.
    const files = new Map(
      examples.map((example, i) => [join(ROOT, `examples/.jsdoc-example-${i}.ts`), example]),
    );
    const host = ts.createCompilerHost(OPTIONS);
    const readFile = host.readFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const getSourceFile = host.getSourceFile.bind(host);
    host.readFile = (path) => files.get(path)?.code ?? readFile(path);
    host.fileExists = (path) => files.has(path) || fileExists(path);
    host.getSourceFile = (path, version, ...rest) => {
      const example = files.get(path);
      return example === undefined
        ? getSourceFile(path, version, ...rest)
        : ts.createSourceFile(path, example.code, version, true);
    };
    const compiled = ts.createProgram([...files.keys()], OPTIONS, host);
    const problems = ts
      .getPreEmitDiagnostics(compiled)
      .filter((diagnostic) => diagnostic.file !== undefined && files.has(diagnostic.file.fileName))
      .map((diagnostic) => {
        const example = files.get(diagnostic.file!.fileName)!;
        return `${example.name} (${example.file}): ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
      });
    assert.deepEqual(problems, []);
    for (const { code, name } of examples)
      assert.match(code, /from 'bigchaindb(\/\w+)?'/, `${name} imports what it uses from the package`);
  });
});
