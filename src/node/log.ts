import type { Writable } from 'node:stream';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
  /** the same sink, its lines tagged with a component name (`block`, `vote`, ...) */
  child(name: string): Logger;
}

/**
 * One line per event: `2026-11-25T22:30:00.123Z INFO  [block] message {"details":...}`. Plain text on
 * stderr, as 0.6 logged, so an operator can grep it and a supervisor (systemd, docker) can collect it.
 */
export function streamLogger(stream: Writable, level: LogLevel = 'info', name?: string): Logger {
  const write = (at: LogLevel, message: string, details?: Record<string, unknown>): void => {
    if (RANK[at] < RANK[level]) return;
    const tag = name === undefined ? '' : `[${name}] `;
    const extra = details === undefined || Object.keys(details).length === 0 ? '' : ` ${safeJson(details)}`;
    stream.write(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${tag}${message}${extra}\n`);
  };
  return {
    debug: (message, details) => write('debug', message, details),
    info: (message, details) => write('info', message, details),
    warn: (message, details) => write('warn', message, details),
    error: (message, details) => write('error', message, details),
    child: (child) => streamLogger(stream, level, name === undefined ? child : `${name}.${child}`),
  };
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** The message of anything thrown, for a log line. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return '"<unserializable details>"';
  }
}
