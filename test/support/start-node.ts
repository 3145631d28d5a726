import { runCli, type ProcessResult } from './processes.ts';
import { asLogText } from './log-records.ts';
import { waitFor } from './wait.ts';

/** `bigchaindb start` in a fresh HOME: waits for the node to run, then `whileRunning`, stops it with `signal`. */
export async function startAndStop(
  home: string,
  signal: NodeJS.Signals,
  options: {
    /** before the command */
    globalArgs?: string[];
    /** after the command */
    args?: string[];
    env?: NodeJS.ProcessEnv;
    whileRunning?: (node: { pid: number; stderr: () => string }) => Promise<void>;
  } = {},
): Promise<ProcessResult> {
  const env = {
    HOME: home,
    BIGCHAINDB_BLOCK_TIMEOUT: '0.1',
    BIGCHAINDB_SERVER_BIND: '127.0.0.1:0',
    // Each request is a DEBUG event: the tests read them.
    BIGCHAINDB_LOG_LEVEL: 'debug',
    ...options.env,
  };
  // The node logs JSON events (stderr is not a terminal); the assertions read them as the text format.
  const result = await runCli([...(options.globalArgs ?? []), 'start', ...(options.args ?? [])], env, {
    cwd: home,
    whileRunning: async ({ child, stderr }) => {
      const text = () => asLogText(stderr());
      await waitFor('the node to start', async () => {
        if (child.exitCode !== null) throw new Error(`exited early (${child.exitCode}): ${text()}`);
        return text().includes('Starting BigchainDB main process');
      });
      try {
        await options.whileRunning?.({ pid: child.pid!, stderr: text });
      } finally {
        child.kill(signal);
      }
    },
  });
  return { ...result, stderr: asLogText(result.stderr) };
}
