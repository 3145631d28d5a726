/**
 * The packages as a user gets them: built and packed (`npm pack`), installed from the tarballs into scratch
 * projects outside the repository, then used with plain `node` (no tsx) and a strict `tsc`.
 * - a project with `bigchaindb`: every entry point imports; a TypeScript consumer and the seed's server API
 *   example (examples/server-api.ts, importing from `bigchaindb`) compile with `tsc --strict` against the
 *   shipped declarations, and the compiled example runs against a fresh embedded database;
 * - a project with `bigchaindb-driver` alone: it imports and builds a transaction, and what it installs is
 *   measured (size, packages);
 * - both tarballs hold no tests, benchmarks or CI files, and pass publint and arethetypeswrong.
 * The dependencies come from npm's cache (they are the repository's own), the registry only if missing.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { runProcess, type ProcessResult } from '../support/processes.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const NPM_TIMEOUT_MS = 5 * 60_000;
/** The example waits out the page's two 12 s expiries. */
const EXAMPLE_TIMEOUT_MS = 240_000;
/** the driver-only install, at most (issue 17) */
const DRIVER_INSTALL_LIMIT = 5 * 1024 * 1024;

let work: string;
let tarball: string;
let driverTarball: string;

function ok(result: ProcessResult, what: string): string {
  assert.equal(
    result.code,
    0,
    `${what} failed (${result.code ?? result.signal}):\n${result.stdout}\n${result.stderr}`,
  );
  return result.stdout;
}

function npm(args: string[], cwd: string): Promise<ProcessResult> {
  return runProcess('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd,
    // npm's own cache and settings (the cache holds the repository's dependencies); nothing else.
    env: { HOME: process.env.HOME, npm_config_cache: process.env.npm_config_cache },
    timeoutMs: NPM_TIMEOUT_MS,
  });
}

/** Plain node: no tsx, no development condition (those come from the test runner's own argv). */
function node(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, args, { cwd, env: { HOME: cwd, ...env }, timeoutMs: 120_000 });
}

async function project(name: string, dependencies: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name, private: true, type: 'module', dependencies }, null, 2),
  );
  return dir;
}

/** Bytes under `dir`, and the package.json names of the packages installed in its node_modules. */
async function installed(dir: string): Promise<{ bytes: number; packages: string[] }> {
  let bytes = 0;
  const packages: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        bytes += (await stat(full)).size;
        if (entry.name === 'package.json' && /node_modules\/(@[^/]+\/)?[^/@]+\/package\.json$/.test(full)) {
          const { name } = JSON.parse(await readFile(full, 'utf8')) as { name?: string };
          const relative = full.slice(full.lastIndexOf('node_modules/') + 'node_modules/'.length);
          if (name !== undefined && relative === `${name}/package.json`) packages.push(name);
        }
      }
    }
  };
  await walk(join(dir, 'node_modules'));
  return { bytes, packages: packages.sort() };
}

describe('the packages, installed from their tarballs', () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'bigchaindb-package-'));
    ok(
      await runProcess('npm', ['run', 'build'], { cwd: ROOT, env: { HOME: process.env.HOME } }),
      'npm run build',
    );
    const packed = ok(
      await runProcess('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: ROOT,
        env: { HOME: process.env.HOME },
      }),
      'npm pack',
    );
    const driverPacked = ok(
      await runProcess('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: join(ROOT, 'packages/driver'),
        env: { HOME: process.env.HOME },
      }),
      'npm pack (driver)',
    );
    tarball = join(work, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
    driverTarball = join(work, (JSON.parse(driverPacked) as { filename: string }[])[0]!.filename);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('the tarballs hold the built code, its sources, LICENSE and CHANGELOG; no tests, benchmarks or CI', async () => {
    const list = async (file: string) =>
      ok(await runProcess('tar', ['-tzf', file], {}), 'tar')
        .split('\n')
        .filter(Boolean)
        .map((path) => path.replace(/^package\//, ''));
    const files = await list(tarball);
    for (const needed of [
      'LICENSE',
      'CHANGELOG.md',
      'README.md',
      'bin/bigchaindb.js',
      'dist/index.js',
      'dist/index.d.ts',
    ])
      assert.ok(files.includes(needed), `${needed} is in the tarball`);
    assert.deepEqual(
      files.filter((path) => /^(test|bench|\.ci|examples|packages|docs)\//.test(path)),
      [],
    );
    const driverFiles = await list(driverTarball);
    assert.ok(driverFiles.includes('dist/driver/index.js') && driverFiles.includes('LICENSE'));
    assert.deepEqual(
      driverFiles.filter(
        (path) => !/^(dist\/(driver|protocol)\/|LICENSE$|package\.json$|README\.md$)/.test(path),
      ),
      [],
    );
    // The driver is the client only: none of the server's code.
    assert.deepEqual(
      driverFiles.filter((path) => /dist\/(node|storage|api|cli|config|ops)\//.test(path)),
      [],
    );
  });

  test('the command of a package that was not built says so, and exits 1', async () => {
    const dir = join(work, 'unbuilt');
    await mkdir(join(dir, 'bin'), { recursive: true });
    await cp(join(ROOT, 'bin/bigchaindb.js'), join(dir, 'bin/bigchaindb.js'));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const result = await node([join(dir, 'bin/bigchaindb.js'), '--help'], dir);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      'bigchaindb: the package is not built (no dist/): run `npm run build` in it first\n',
    );
  });

  test('publint and arethetypeswrong find nothing wrong with either', async () => {
    for (const file of [tarball, driverTarball]) {
      const publint = ok(
        await runProcess(join(ROOT, 'node_modules/.bin/publint'), ['run', file, '--strict'], { cwd: work }),
        `publint ${file}`,
      );
      assert.match(publint, /All good!/);
      // ESM only, as the package says: CommonJS require() of it is not a goal.
      ok(
        await runProcess(join(ROOT, 'node_modules/.bin/attw'), [file, '--profile', 'esm-only'], {
          cwd: work,
          env: { HOME: work },
        }),
        `attw ${file}`,
      );
    }
  });

  test('bigchaindb: every entry imports under plain node; TypeScript consumers compile; the server API example runs', async () => {
    const dir = await project('server-consumer', {});
    const typesNode = JSON.parse(
      await readFile(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8'),
    ) as { version: string };
    const typescript = JSON.parse(
      await readFile(join(ROOT, 'node_modules/typescript/package.json'), 'utf8'),
    ) as { version: string };
    ok(
      await npm(
        [
          'install',
          tarball,
          driverTarball,
          `@types/node@${typesNode.version}`,
          `typescript@${typescript.version}`,
        ],
        dir,
      ),
      'npm install',
    );

    // (a) ESM imports of every entry, plain node.
    const imported = ok(
      await node(
        [
          '--input-type=module',
          '-e',
          `const server = await import('bigchaindb');
           const protocol = await import('bigchaindb/protocol');
           const driver = await import('bigchaindb/driver');
           const light = await import('bigchaindb-driver');
           console.log(typeof server.Bigchain.open, typeof server.BigchainNode.start, typeof server.openStorage,
             typeof protocol.createTransaction, typeof driver.Client, typeof light.Client,
             light.generateKeyPair().publicKey.length > 40);`,
        ],
        dir,
      ),
      'importing the entries',
    );
    assert.equal(imported.trim(), 'function function function function function function true');
    const help = ok(
      await node([join(dir, 'node_modules/.bin/bigchaindb'), '--help'], dir),
      'bigchaindb --help',
    );
    assert.match(help, /^usage: bigchaindb /);

    // (b) a strict TypeScript consumer of every entry, and the seed's server API example.
    await mkdir(join(dir, 'src'));
    await writeFile(
      join(dir, 'src/consumer.ts'),
      `import { Bigchain, loadConfig, type NodeConfig, type Transaction } from 'bigchaindb';
import { createAndSignTx, generateKeyPair, serialize, type Block } from 'bigchaindb/protocol';
import { Client, InvalidTransaction } from 'bigchaindb/driver';
import { tempClient, type SubmittedTransaction } from 'bigchaindb-driver';

const alice = generateKeyPair();
const tx: Transaction = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE');
export const text: string = serialize(tx);
export const client: Client = tempClient({ apiEndpoint: 'http://localhost:9984/api/v1' });
export async function open(config: NodeConfig): Promise<Bigchain> {
  const loaded = await loadConfig({ path: 'node.json' });
  return Bigchain.open(loaded.fileFound ? loaded.config : config);
}
export function blockIds(blocks: readonly Block[]): string[] {
  return blocks.map((block) => block.id);
}
export function isRefusal(error: unknown): error is InvalidTransaction {
  return error instanceof InvalidTransaction;
}
export type Submitted = SubmittedTransaction;
`,
    );
    await cp(join(ROOT, 'examples/server-api.ts'), join(dir, 'src/server-api.ts'));
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022'],
          types: ['node'],
          strict: true,
          skipLibCheck: false,
          outDir: 'out',
          rootDir: 'src',
        },
        include: ['src'],
      }),
    );
    ok(await node([join(dir, 'node_modules/typescript/bin/tsc'), '-p', '.'], dir), 'tsc --strict');

    // (d) the compiled example, from the installed package, against a fresh embedded database.
    const home = join(dir, 'home');
    await mkdir(home);
    const keyPair = generateKeyPair();
    await writeFile(
      join(home, '.bigchaindb'),
      JSON.stringify({
        keypair: { public: keyPair.publicKey, private: keyPair.privateKey },
        database: { backend: 'embedded', path: join(home, 'data') },
        block_timeout: 0.2,
      }),
    );
    const run = await runProcess(process.execPath, [join(dir, 'out/server-api.js')], {
      cwd: dir,
      env: { HOME: home },
      timeoutMs: EXAMPLE_TIMEOUT_MS,
    });
    ok(run, 'the server API example');
    assert.match(run.stdout, /\nEvery outcome the page describes was checked\.\n$/);
  });

  test('bigchaindb-driver alone: only the noble crypto installed, under 5 MB, and it works under plain node', async () => {
    const dir = await project('driver-consumer', {});
    ok(await npm(['install', driverTarball], dir), 'npm install');
    const { bytes, packages } = await installed(dir);
    assert.deepEqual(packages, ['@noble/curves', '@noble/hashes', 'bigchaindb-driver']);
    assert.ok(bytes <= DRIVER_INSTALL_LIMIT, `the driver installs ${bytes} bytes`);
    console.log(
      `bigchaindb-driver alone installs ${(bytes / 1024 / 1024).toFixed(2)} MB in ${packages.length} packages`,
    );
    const built = ok(
      await node(
        [
          '--input-type=module',
          '-e',
          `import { createAndSignTx, generateKeyPair, Fulfillment } from 'bigchaindb-driver';
           const alice = generateKeyPair();
           const tx = createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE');
           console.log(tx.id.length, Fulfillment.fromUri(tx.transaction.fulfillments[0].fulfillment).conditionUri.startsWith('cc:4:20:'));`,
        ],
        dir,
      ),
      'building a transaction with the driver',
    );
    assert.equal(built.trim(), '64 true');

    // As a browser app bundles it: the noble crypto, no node: import.
    const bundle = await build({
      stdin: { contents: "export * from 'bigchaindb-driver';", resolveDir: dir, loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    const code = bundle.outputFiles[0]!.text;
    assert.doesNotMatch(code, /["']node:/);
    assert.match(code, /getRandomValues/);
    console.log(
      `bigchaindb-driver bundled for browsers: ${(code.length / 1024).toFixed(1)} kB minified, ` +
        `${(gzipSync(code).length / 1024).toFixed(1)} kB gzip`,
    );
  });
});
