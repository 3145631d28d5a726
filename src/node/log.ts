import type { Writable } from 'node:stream';
import { pino, stdSerializers, type Logger as Pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** json: one JSON object a line (for collectors); text: one readable line an event (for a terminal). */
export type LogFormat = 'json' | 'text';

export interface Logger {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
  /** the same sink, its events tagged with a component name (`block`, `vote`, ...) */
  child(name: string): Logger;
}

export interface StreamLoggerOptions {
  level?: LogLevel;
  /** default: text when the stream is a terminal, json otherwise */
  format?: LogFormat;
}

/**
 * The node's logger: pino, writing to `stream`. As JSON, each event is
 * `{"level":"info","time":"2026-11-25T22:30:00.123Z","name":"block","msg":"…",…details}`, errors among the
 * details with their stack and cause chain; as text the same event reads
 * `2026-11-25T22:30:00.123Z INFO  [block] … {"details":…}`. Every process of a node logs this way, on stderr.
 */
export function streamLogger(
  stream: Writable & { isTTY?: boolean },
  options: StreamLoggerOptions = {},
): Logger {
  const format = options.format ?? (stream.isTTY === true ? 'text' : 'json');
  const root = pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    format === 'json' ? stream : textDestination(stream),
  );
  return wrap(root, root, undefined);
}

function wrap(root: Pino, logger: Pino, name: string | undefined): Logger {
  const write =
    (level: LogLevel) =>
    (message: string, details?: Record<string, unknown>): void => {
      if (details === undefined) logger[level](message);
      else logger[level](withSerializedErrors(details), message);
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (child) => {
      const full = name === undefined ? child : `${name}.${child}`;
      return wrap(root, root.child({ name: full }), full);
    },
  };
}

/** Errors anywhere among the details' values as pino's error records (type, message, stack, causes). */
function withSerializedErrors(details: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(details)) {
    if (!(value instanceof Error)) continue;
    copy ??= { ...details };
    copy[key] = stdSerializers.err(value);
  }
  return copy ?? details;
}

const TEXT_KEYS = new Set(['level', 'time', 'name', 'msg']);

/** Renders pino's JSON lines as readable ones. */
function textDestination(stream: Writable): { write(line: string): void } {
  return {
    write: (line: string) => stream.write(`${logEventText(JSON.parse(line) as Record<string, unknown>)}\n`),
  };
}

/** One log event as the text format shows it: `time LEVEL [name] message {details}`. */
export function logEventText(record: Record<string, unknown>): string {
  const level = String(record.level).toUpperCase().padEnd(5);
  const tag = typeof record.name === 'string' ? `[${record.name}] ` : '';
  const rest = Object.fromEntries(Object.entries(record).filter(([key]) => !TEXT_KEYS.has(key)));
  const extra = Object.keys(rest).length === 0 ? '' : ` ${JSON.stringify(rest)}`;
  return `${String(record.time)} ${level} ${tag}${String(record.msg)}${extra}`;
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
