/** The `bigchaindb` command: runs the command line given to this process and exits with its status. */
import { run } from './main.ts';

process.exitCode = await run(process.argv.slice(2));
