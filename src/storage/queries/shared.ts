/** What more than one query module uses. */

/** Where a block's election stands. */
export type BlockStatus = 'undecided' | 'valid' | 'invalid';

export interface WriteResult {
  /** ids written */
  inserted: string[];
  /** ids refused because a row with that key was already there */
  duplicates: string[];
}

/** Splits `all` into the ids written (those in `kept`) and the duplicates refused. */
export function partition<T>(all: readonly T[], kept: ReadonlySet<T>): WriteResult {
  const inserted: string[] = [];
  const duplicates: string[] = [];
  for (const id of all) (kept.has(id) ? inserted : duplicates).push(String(id));
  return { inserted, duplicates };
}
