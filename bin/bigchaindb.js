#!/usr/bin/env node
// The `bigchaindb` command, from the built package (`npm run build` makes dist/; `npm install` runs it).
try {
  await import('../dist/cli/bin.js');
} catch (error) {
  const missing =
    error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/dist/cli/bin.js');
  if (!missing) throw error;
  process.stderr.write('bigchaindb: the package is not built (no dist/): run `npm run build` in it first\n');
  process.exitCode = 1;
}
