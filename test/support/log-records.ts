import { logEventText } from '../../src/node/log.ts';

/** A node's log event as its JSON line carries it (src/node/log.ts). */
export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  time: string;
  /** the component: block, vote, http:1, … */
  name?: string;
  msg: string;
  [detail: string]: unknown;
}

/** The event of one line a node process logged; undefined for a line that is not a log event. */
export function logRecord(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as Partial<LogRecord>;
    return typeof value.level === 'string' && typeof value.msg === 'string'
      ? (value as LogRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The events of the lines at `level`. */
export function atLevel(lines: readonly string[], level: LogRecord['level']): LogRecord[] {
  return lines.map(logRecord).filter((record): record is LogRecord => record?.level === level);
}

/** A process's output with its JSON log events shown as the text format shows them, for reading. */
export function asLogText(output: string): string {
  return output
    .split('\n')
    .map((line) => {
      const record = logRecord(line);
      return record === undefined ? line : logEventText(record);
    })
    .join('\n');
}
