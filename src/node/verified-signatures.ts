import { BoundedSet } from './bounded-set.ts';
import type { VerifyJob } from './verify-pool.ts';

/** The draft-01 feature bit that only a TIMEOUT (type 99, bitmask 0x09) sets here: RSA (0x08) is not supported. */
const TIMEOUT_FEATURE = 0x08;

/**
 * Transactions whose fulfillments this node has already found valid, so that a transaction it packed into
 * a block is not verified again when it votes on that block (nor one seen twice in the backlog).
 *
 * The key is the id and the fulfillment strings: by the time signatures are checked the id is known to be
 * the hash of the body, which fixes the inputs and so the conditions they spend; the fulfillments are not
 * hashed into the id (0.6), so they are part of the key. A transaction spending a condition with a timeout
 * is never remembered: its validity depends on when it is checked.
 */
export class VerifiedSignatures {
  private readonly keys: BoundedSet<string>;

  constructor(capacity = 500_000) {
    this.keys = new BoundedSet(capacity);
  }

  has(job: VerifyJob): boolean {
    const key = cacheKey(job);
    return key !== undefined && this.keys.has(key);
  }

  add(job: VerifyJob): void {
    const key = cacheKey(job);
    if (key !== undefined) this.keys.add(key);
  }
}

function cacheKey(job: VerifyJob): string | undefined {
  for (const condition of job.inputConditions) {
    const bitmask = Number.parseInt(condition.uri.split(':')[2] ?? '', 16);
    if (!Number.isInteger(bitmask) || (bitmask & TIMEOUT_FEATURE) !== 0) return undefined;
  }
  return `${job.tx.id}|${job.tx.transaction.fulfillments.map((f) => f.fulfillment).join('|')}`;
}
