import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * `entry` (relative to the repository) bundled as a browser app would bundle it: platform browser, so
 * `#crypto` is the noble backend and a node: import does not resolve. `inputs`: the files bundled.
 */
export async function bundleForBrowser(entry: string): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'browser',
    // The sources, as package.json maps `#crypto` under the development condition.
    conditions: ['development'],
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) };
}
