import { timestamp } from '../../src/protocol/crypto.ts';
import {
  createInputCondition,
  type InputConditionLookup,
  type Transaction,
  type TransactionInput,
} from '../../src/protocol/transaction.ts';
import type { ValidationContext } from '../../src/protocol/validation.ts';

type Status = 'valid' | 'undecided';

/**
 * The chain as validation sees it, kept in memory for protocol tests: which transactions sit in valid or
 * undecided blocks and which outputs they spend. The clock can be pinned to test timeouts.
 */
export class MemoryLedger implements ValidationContext {
  readonly federation: string[];
  allowGenesis = false;
  clock: string | undefined;
  private readonly transactions = new Map<string, { tx: Transaction; status: Status }>();
  private readonly spenders = new Map<string, string>();

  constructor(federation: string[]) {
    this.federation = federation;
  }

  /** Put transactions into the chain as if their block had been decided (or was still undecided). */
  add(status: Status, ...txs: Transaction[]): void {
    for (const tx of txs) {
      this.transactions.set(tx.id, { tx, status });
      for (const f of tx.transaction.fulfillments) {
        if (f.input) this.spenders.set(`${f.input.txid}:${f.input.cid}`, tx.id);
      }
    }
  }

  now(): string {
    return this.clock ?? timestamp();
  }

  getValidTransaction(txid: string): Transaction | undefined {
    const entry = this.transactions.get(txid);
    return entry?.status === 'valid' ? entry.tx : undefined;
  }

  getSpender(input: TransactionInput): string | undefined {
    return this.spenders.get(`${input.txid}:${input.cid}`);
  }

  isInChain(txid: string): boolean {
    return this.transactions.has(txid);
  }

  /** What signing needs: the condition each input spends, from any transaction in the chain. */
  readonly inputCondition: InputConditionLookup = (f) => {
    if (!f.input) return createInputCondition(f);
    const { txid, cid } = f.input;
    return this.transactions.get(txid)?.tx.transaction.conditions.find((c) => c.cid === cid)?.condition;
  };

  /** The seed's `get_owned_ids`: unspent outputs whose condition names `owner`, at any depth. */
  getOwnedIds(owner: string): TransactionInput[] {
    const owned: TransactionInput[] = [];
    for (const { tx } of this.transactions.values()) {
      for (const c of tx.transaction.conditions) {
        const input = { txid: tx.id, cid: c.cid };
        if (mentions(c.condition.details, owner) && !this.getSpender(input)) owned.push(input);
      }
    }
    return owned;
  }
}

function mentions(details: unknown, owner: string): boolean {
  if (!details || typeof details !== 'object') return false;
  const record = details as Record<string, unknown>;
  if (record.public_key === owner) return true;
  return Array.isArray(record.subfulfillments) && record.subfulfillments.some((s) => mentions(s, owner));
}
