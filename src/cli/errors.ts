import { BigchainDBError, errorCode } from '../protocol/errors.ts';

/** A failure the CLI reports as one message and a non-zero exit, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * A command line the table does not accept (exit 2): the reason, and the usage printed after it (the
 * command's usage line, or the program's help when there is no command to speak of).
 */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message, 2);
  }
}

/** The reason, without a stack: our own errors carry a complete message; system errors get context. */
export function describe(error: unknown): string {
  if (error instanceof CliError || error instanceof BigchainDBError) return error.message;
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) {
    if (errorCode(error) === 'ECONNREFUSED')
      return `cannot connect to the PostgreSQL server (${error.message})`;
    return error.message;
  }
  return String(error);
}
