/** What more than one query module uses. */
import type { SqlSession } from '../driver.ts';

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

/** PostgreSQL's limit on the parameters of one statement. */
export const MAX_PARAMETERS = 65_535;

/**
 * `INSERT INTO <target> VALUES (…), (…) <suffix>` for rows given as parallel columns, one parameter per
 * value (each typed by its target column), in as few statements as the parameter limit allows; resolves to
 * the rows of every statement's RETURNING. Not `SELECT * FROM unnest($1::text[], …)`: an array parameter is
 * escaped element by element by the client and parsed back by the server, which for kilobyte documents
 * costs more than the insert (measured on a 1000-row insert of 1 kB documents: 24 → 11 µs of the node's CPU
 * per row). Run it in a transaction when the rows must land together.
 */
export async function insertColumns<Row = Record<string, unknown>>(
  session: SqlSession,
  target: string,
  columns: readonly (readonly unknown[])[],
  suffix: string,
  maxParameters = MAX_PARAMETERS,
): Promise<Row[]> {
  const rowCount = columns[0]?.length ?? 0;
  const perStatement = Math.max(1, Math.floor(maxParameters / columns.length));
  const returned: Row[] = [];
  for (let start = 0; start < rowCount; start += perStatement) {
    const end = Math.min(rowCount, start + perStatement);
    const tuples: string[] = [];
    const params: unknown[] = [];
    for (let row = start; row < end; row++) {
      const placeholders: string[] = [];
      for (const column of columns) {
        params.push(column[row]);
        placeholders.push(`$${params.length}`);
      }
      tuples.push(`(${placeholders.join(',')})`);
    }
    returned.push(
      ...(await session.query<Row>(`INSERT INTO ${target} VALUES ${tuples.join(',')} ${suffix}`, params)),
    );
  }
  return returned;
}
