import type { SqlSession } from '../driver.ts';

/**
 * Runs `each` on the rows of `query` in batches of `batchSize`, through a cursor of `session`'s
 * transaction, so memory stays bounded however many rows there are.
 */
export async function forEachRow<Row>(
  session: SqlSession,
  query: string,
  batchSize: number,
  each: (rows: Row[]) => Promise<void>,
): Promise<void> {
  await session.query(`DECLARE bigchaindb_rows NO SCROLL CURSOR FOR ${query}`);
  for (;;) {
    const rows = await session.query<Row>(`FETCH FORWARD ${batchSize} FROM bigchaindb_rows`);
    if (rows.length === 0) break;
    await each(rows);
  }
  await session.query('CLOSE bigchaindb_rows');
}
