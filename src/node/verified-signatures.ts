import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Transaction } from '../protocol/transaction.ts';
import { BoundedSet } from './bounded-set.ts';
import type { VerifyJob } from './verify-pool.ts';

/** The draft-01 feature bit that only a TIMEOUT (type 99, bitmask 0x09) sets here: RSA (0x08) is not supported. */
const TIMEOUT_FEATURE = 0x08;
/** bytes of a tag key: the size of HMAC-SHA256's output, the least RFC 2104 recommends */
const TAG_KEY_BYTES = 32;

export interface VerifiedSignaturesOptions {
  /** transactions remembered at most (the oldest are forgotten first) */
  capacity?: number;
  /** the tag key of the node's `start` process, in hex (an API worker's); default: a new random one */
  tagKey?: string;
}

/**
 * Transactions whose fulfillments this node has already found valid, so that a transaction it packed into
 * a block is not verified again when it votes on that block (nor one seen twice in the backlog).
 *
 * The key is the id and the fulfillment strings: by the time signatures are checked the id is known to be
 * the hash of the body, which fixes the inputs and so the conditions they spend; the fulfillments are not
 * hashed into the id (0.6), so they are part of the key. A transaction spending a condition with a timeout
 * is never remembered: its validity depends on when it is checked.
 *
 * The node's API worker processes check transactions in memories of their own: each tags the backlog rows
 * it writes with an HMAC of the row's text under the `start` process's tag key (made at random for each
 * start, handed to its workers over IPC). A row whose tag the block pipeline can recompute was written, as
 * it reads, by this start of the node after the checks a transaction passes alone (shape, id, signatures)
 * and by `serialize`: its transaction is "checked alone" (`isCheckedAlone`), only the chain is left to
 * check, and its text is canonical, to be hashed into a block as it is. Other nodes share the database but
 * not the key, so a row they wrote (or changed, or one of an earlier start) is checked in full.
 */
export class VerifiedSignatures {
  private readonly keys: BoundedSet<string>;
  private readonly tagKey: Buffer;
  /** transaction objects of this process that passed the checks a transaction passes alone */
  private readonly checkedAlone = new WeakSet<object>();

  constructor(options: VerifiedSignaturesOptions = {}) {
    this.keys = new BoundedSet(options.capacity ?? 500_000);
    this.tagKey =
      options.tagKey === undefined ? randomBytes(TAG_KEY_BYTES) : Buffer.from(options.tagKey, 'hex');
    if (this.tagKey.length !== TAG_KEY_BYTES)
      throw new RangeError(`a signature tag key is ${TAG_KEY_BYTES} bytes in hex, not ${this.tagKey.length}`);
  }

  has(job: VerifyJob): boolean {
    const key = cacheKey(job);
    return key !== undefined && this.keys.has(key);
  }

  add(job: VerifyJob): void {
    const key = cacheKey(job);
    if (key !== undefined) this.keys.add(key);
  }

  /** The tag key, in hex, for the API workers of this process only (IPC; never argv, env or a log). */
  exportTagKey(): string {
    return this.tagKey.toString('hex');
  }

  /**
   * The tag of a backlog row holding `tx` as `text` (serialize(tx)), when its signatures are remembered
   * here (found good by this process, or signed by it) and it passed the other checks a transaction passes
   * alone, which the caller vouches for; else undefined: then the block pipeline checks it in full.
   */
  tag(tx: Transaction, text: string): string | undefined {
    return this.keys.has(transactionKey(tx)) ? this.hmac(text) : undefined;
  }

  /**
   * Takes `tx`, parsed from a backlog row's `text`, as checked alone when `tag` is this key's tag of the
   * text (written by a process that shares the key); false for any other tag, which is then no reason to
   * skip a check. A transaction spending a timeout condition is never tagged, and `has` never answers true
   * for one whatever is remembered.
   */
  acceptTag(tx: Transaction, text: string, tag: string): boolean {
    const expected = Buffer.from(this.hmac(text), 'hex');
    const given = Buffer.from(tag, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    this.keys.add(transactionKey(tx));
    this.checkedAlone.add(tx);
    return true;
  }

  /** Records `tx` (built and signed by this node, say) as having passed the checks it passes alone. */
  markCheckedAlone(tx: Transaction): void {
    this.checkedAlone.add(tx);
  }

  /** Whether this very object passed the checks a transaction passes alone (shape, id, signatures). */
  isCheckedAlone(value: unknown): boolean {
    return typeof value === 'object' && value !== null && this.checkedAlone.has(value);
  }

  private hmac(key: string): string {
    return createHmac('sha256', this.tagKey).update(key).digest('hex');
  }
}

function cacheKey(job: VerifyJob): string | undefined {
  for (const condition of job.inputConditions) {
    const bitmask = Number.parseInt(condition.uri.split(':')[2] ?? '', 16);
    if (!Number.isInteger(bitmask) || (bitmask & TIMEOUT_FEATURE) !== 0) return undefined;
  }
  return transactionKey(job.tx);
}

function transactionKey(tx: Transaction): string {
  return `${tx.id}|${tx.transaction.fulfillments.map((f) => f.fulfillment).join('|')}`;
}
