import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `check` until it returns something other than undefined/false, and returns that; fails with
 * `what` and the last value seen after `timeoutMs`. For tests that wait on a pipeline's progress.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(options.intervalMs ?? 50);
  }
}
