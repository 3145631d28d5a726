/**
 * Where the code a node starts in another thread or process lives. The package runs as built JavaScript
 * (`dist/`); in development it runs its TypeScript sources through tsx, which a worker thread does not inherit
 * and a child process must be told to load, wherever it is started from.
 */
import { Worker } from 'node:worker_threads';

/** Whether this process runs the TypeScript sources rather than the built package. */
export const RUNNING_SOURCES = import.meta.url.endsWith('.ts');

/** The module `name` (no extension) beside `base` (an `import.meta.url`), in the form this process runs. */
export function moduleBeside(base: string, name: string): URL {
  return new URL(`./${name}${RUNNING_SOURCES ? '.ts' : '.js'}`, base);
}

// Registers tsx in the worker, then loads the module. Both come as URLs: a bare specifier in eval'd code
// resolves from the working directory, which is anywhere a node is started from.
const SOURCE_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((tsx) => { tsx.register(); return import(workerData.entry); });
`;

/** A worker thread running the module `entry` (a URL). */
export function startWorker(entry: string): Worker {
  if (!entry.endsWith('.ts')) return new Worker(new URL(entry));
  return new Worker(SOURCE_BOOTSTRAP, {
    eval: true,
    workerData: { tsx: import.meta.resolve('tsx/esm/api'), entry },
  });
}

/**
 * node options for a child process running this package's modules: in development, tsx (by URL) and the
 * `development` condition, under which package.json maps `#crypto` to the sources.
 */
export function childExecArgv(): string[] {
  if (!RUNNING_SOURCES) return [...process.execArgv];
  // tsx as the parent named it (`--import tsx` resolves from the working directory) is replaced by its URL.
  const tsx = import.meta.resolve('tsx');
  const isTsx = (value: string | undefined) => value === 'tsx' || value === tsx;
  const argv: string[] = [];
  const parent = process.execArgv;
  for (let i = 0; i < parent.length; i++) {
    const arg = parent[i]!;
    if (arg === '--import' && isTsx(parent[i + 1])) i++;
    else if (!(arg.startsWith('--import=') && isTsx(arg.slice('--import='.length)))) argv.push(arg);
  }
  if (!argv.includes('--conditions=development')) argv.push('--conditions=development');
  argv.push('--import', tsx);
  return argv;
}
