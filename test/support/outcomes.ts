import type { Storage } from '../../src/storage/storage.ts';
import { rawDriver } from './raw-sql.ts';

export type Outcome = 'valid' | 'undecided' | 'invalid' | 'rejected' | 'backlog' | 'missing';

/** Where each transaction is now: the status of its live copy, `rejected`, `backlog`, or `missing`. */
export async function outcomes(storage: Storage, ids: readonly string[]): Promise<Map<string, Outcome>> {
  const [copies, rejected, backlog] = await Promise.all([
    storage.getTransactions(ids),
    storage.getRejected(ids),
    storage.getBacklog(ids),
  ]);
  const result = new Map<string, Outcome>();
  for (const id of ids) {
    const live = copies.find((copy) => copy.transaction.id === id && copy.live);
    result.set(id, live?.status ?? (rejected.has(id) ? 'rejected' : backlog.has(id) ? 'backlog' : 'missing'));
  }
  return result;
}

/** How many transactions have each outcome. */
export function tally(statuses: Map<string, Outcome>): Partial<Record<Outcome, number>> {
  const counts: Partial<Record<Outcome, number>> = {};
  for (const status of statuses.values()) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** Every transaction is final: in a valid block or rejected with its reason. */
export function allSettled(statuses: Map<string, Outcome>): boolean {
  return [...statuses.values()].every((status) => status === 'valid' || status === 'rejected');
}

/**
 * The chain's two safety invariants, checked in SQL over everything stored: no transaction is in two valid
 * blocks, and no output is spent by two transactions of valid blocks. Returns the violations.
 */
export async function safetyViolations(
  storage: Storage,
): Promise<{ doubleIncluded: string[]; doubleSpent: string[] }> {
  const doubleIncluded = await rawDriver(storage).query<{ tx_id: string }>(
    `SELECT t.tx_id FROM transactions t JOIN blocks b ON b.id = t.block_id
     WHERE b.status = 'valid' GROUP BY t.tx_id HAVING count(*) > 1`,
  );
  const doubleSpent = await rawDriver(storage).query<{ output: string }>(
    `SELECT s.input_txid || ':' || s.input_cid AS output FROM spends s JOIN blocks b ON b.id = s.block_id
     WHERE b.status = 'valid' GROUP BY s.input_txid, s.input_cid HAVING count(*) > 1`,
  );
  return {
    doubleIncluded: doubleIncluded.map((row) => row.tx_id),
    doubleSpent: doubleSpent.map((row) => row.output),
  };
}
