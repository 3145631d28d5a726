import { BigchainDBError, errorCode } from '../protocol/errors.ts';

export class StorageError extends BigchainDBError {}

/** init on a database that already holds the schema (the seed's DatabaseAlreadyExists). */
export class DatabaseAlreadyExists extends StorageError {
  static named(database: string): DatabaseAlreadyExists {
    return new DatabaseAlreadyExists(`Database \`${database}\` already exists`, { database });
  }
}

/** drop, or any use, of a database that was never initialized (the seed's DatabaseDoesNotExist). */
export class DatabaseDoesNotExist extends StorageError {
  static named(database: string): DatabaseDoesNotExist {
    return new DatabaseDoesNotExist(
      `Database \`${database}\` does not exist or is not initialized; run \`bigchaindb init\``,
      { database },
    );
  }
}

export interface BlockConflict {
  /** `included`: the transaction is already in a live block; `spent`: the output is already spent by a live one */
  kind: 'included' | 'spent' | 'block';
  /** the clashing transaction of the refused block (absent for `block`) */
  txId?: string;
  /** for `spent`: the output, as `txid:cid` */
  input?: string;
  /** the block (and for `spent`, the transaction) already holding it */
  existingBlock?: string;
  existingSpender?: string;
}

/**
 * writeBlock refused a block because storing it would give one transaction two live blocks or one output
 * two live spenders. Nothing was written; `details.conflicts` lists every clash.
 */
export class BlockConflictError extends StorageError {
  readonly conflicts: BlockConflict[];

  constructor(blockId: string, conflicts: BlockConflict[]) {
    const first = conflicts[0];
    const what =
      first === undefined
        ? 'a conflict'
        : first.kind === 'block'
          ? 'it is already stored'
          : first.kind === 'spent'
            ? `transaction ${first.txId} spends ${first.input}, already spent by ${first.existingSpender} in block ${first.existingBlock}`
            : `transaction ${first.txId} is already in block ${first.existingBlock}`;
    const more = conflicts.length > 1 ? ` (and ${conflicts.length - 1} more conflicts)` : '';
    super(`block ${blockId} was not written: ${what}${more}`, { blockId, conflicts });
    this.conflicts = conflicts;
  }
}

/**
 * SQLSTATE class 08 (connection exceptions), 53300 too many connections, 57P01/57P02 admin and crash
 * shutdown, 57P03 cannot connect now (starting up, shutting down); node:net's refused or lost connection
 */
const UNAVAILABLE_CODE = /^(08[0-9A-Z]{3}|53300|57P0[123]|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT)$/;
/** pg's and pg-pool's errors for a lost or never-made connection, which carry no code */
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|timeout expired$|Client has encountered a connection error)/;

/**
 * Whether `error` says the database server cannot serve now (down, restarting, starting up, out of
 * connections), so the same request may well succeed in a moment, rather than that the request failed.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // A name with several addresses fails as an AggregateError of each; pg-pool wraps some as the `cause`.
  const seen = new Set<unknown>();
  const pending = [error];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    const code = errorCode(next);
    if (code !== undefined && UNAVAILABLE_CODE.test(code)) return true;
    if (!(next instanceof Error)) continue;
    if (UNAVAILABLE_MESSAGE.test(next.message)) return true;
    if (next instanceof AggregateError) pending.push(...(next.errors as unknown[]));
    if (next.cause !== undefined) pending.push(next.cause);
  }
  return false;
}
