import { readFileSync } from 'node:fs';
import { errorCode } from '../protocol/errors.ts';

/** Whether process `pid` runs: for lock and owner files left by a process that may have died. */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    if (errorCode(error) !== 'EPERM') return false;
  }
  // A zombie (exited or killed, not yet reaped by its parent) still answers signal 0 but holds nothing.
  return processState(pid) !== 'Z';
}

/** The state letter in /proc/PID/stat (Linux), undefined where it cannot be read. */
function processState(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `PID (command) STATE …`: the command may itself hold spaces and parentheses, so read after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 1).trimStart()[0];
}
