#!/usr/bin/env node
// The package ships TypeScript sources; tsx compiles them on load so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/cli/main.ts');
process.exitCode = await run(process.argv.slice(2));
