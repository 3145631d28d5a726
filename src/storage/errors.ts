import { BigchainDBError } from '../protocol/errors.ts';

export class StorageError extends BigchainDBError {}

/** init on a database that already holds the schema (the seed's DatabaseAlreadyExists). */
export class DatabaseAlreadyExists extends StorageError {
  static named(database: string): DatabaseAlreadyExists {
    return new DatabaseAlreadyExists(`Database \`${database}\` already exists`, { database });
  }
}

/** drop, or any use, of a database that was never initialised (the seed's DatabaseDoesNotExist). */
export class DatabaseDoesNotExist extends StorageError {
  static named(database: string): DatabaseDoesNotExist {
    return new DatabaseDoesNotExist(
      `Database \`${database}\` does not exist or is not initialised; run \`bigchaindb init\``,
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

/** A feature only the PostgreSQL server backend has (sharding, replication). */
export class BackendUnsupported extends StorageError {}
