import { timestamp } from '../protocol/crypto.ts';
import type { Transaction, TransactionInput } from '../protocol/transaction.ts';
import type { ValidationContext } from '../protocol/validation.ts';
import type { Storage } from '../storage/storage.ts';

function inputKey(input: TransactionInput): string {
  return `${input.txid}:${input.cid}`;
}

/** The inputs a batch of (untrusted) transactions names; non-objects are left to validation to refuse. */
function inputsOf(txs: readonly unknown[]): TransactionInput[] {
  const inputs: TransactionInput[] = [];
  for (const tx of txs as Transaction[]) {
    for (const fulfillment of tx?.transaction?.fulfillments ?? []) {
      const input = fulfillment?.input;
      if (typeof input?.txid === 'string' && Number.isInteger(input.cid)) inputs.push(input);
    }
  }
  return inputs;
}

/**
 * What validation asks of the chain, for one batch of transactions (a block's worth), loaded in two
 * queries instead of several per transaction. Questions about anything outside the batch fall back to the
 * database. `include` adds a transaction to the block under construction, so a later one in the same batch
 * that spends the same output, or is the same transaction, is refused.
 */
export class ChainView implements ValidationContext {
  private readonly pendingSpenders = new Map<string, string>();
  private readonly pendingIds = new Set<string>();

  private constructor(
    private readonly storage: Storage,
    readonly federation: readonly string[],
    private readonly clock: () => string,
    private readonly valid: Map<string, Transaction>,
    private readonly live: Set<string>,
    private readonly spenders: Map<string, string>,
    private readonly loaded: Set<string>,
    private readonly exceptBlock: string | undefined,
  ) {}

  static async load(
    storage: Storage,
    txs: readonly unknown[],
    options: {
      federation: readonly string[];
      now?: () => string;
      /** validating a stored block's transactions (voting): that block's own rows are not "the chain" */
      exceptBlock?: string;
    },
  ): Promise<ChainView> {
    const inputs = inputsOf(txs);
    const ids = [
      ...new Set([
        ...(txs as Transaction[]).map((tx) => tx?.id).filter((id): id is string => typeof id === 'string'),
        ...inputs.map((input) => input.txid),
      ]),
    ];
    const [allCopies, allSpends] = await Promise.all([
      storage.getTransactions(ids),
      storage.getSpenders(inputs),
    ]);
    const copies = allCopies.filter((copy) => copy.blockId !== options.exceptBlock);
    const spends = allSpends.filter((spend) => spend.blockId !== options.exceptBlock);
    const valid = new Map<string, Transaction>();
    const live = new Set<string>();
    for (const copy of copies) {
      if (copy.status === 'valid') valid.set(copy.transaction.id, copy.transaction);
      if (copy.live) live.add(copy.transaction.id);
    }
    const spenders = new Map(spends.map((spend) => [inputKey(spend.input), spend.spender]));
    const loaded = new Set([...ids, ...inputs.map(inputKey)]);
    const clock = options.now ?? timestamp;
    return new ChainView(
      storage,
      options.federation,
      clock,
      valid,
      live,
      spenders,
      loaded,
      options.exceptBlock,
    );
  }

  now(): string {
    return this.clock();
  }

  async getValidTransaction(txid: string): Promise<Transaction | undefined> {
    if (this.loaded.has(txid)) return this.valid.get(txid);
    const copies = await this.storage.getTransactions([txid]);
    return copies.find((copy) => copy.status === 'valid' && copy.blockId !== this.exceptBlock)?.transaction;
  }

  async getSpender(input: TransactionInput): Promise<string | undefined> {
    const key = inputKey(input);
    const pending = this.pendingSpenders.get(key);
    if (pending !== undefined) return pending;
    if (this.loaded.has(key)) return this.spenders.get(key);
    const spends = await this.storage.getSpenders([input]);
    return spends.find((spend) => spend.blockId !== this.exceptBlock)?.spender;
  }

  async isInChain(txid: string): Promise<boolean> {
    if (this.pendingIds.has(txid)) return true;
    if (this.loaded.has(txid)) return this.live.has(txid);
    const copies = await this.storage.getTransactions([txid]);
    return copies.some((copy) => copy.live && copy.blockId !== this.exceptBlock);
  }

  /** Counts a validated transaction as part of the block under construction. */
  include(tx: Transaction): void {
    this.pendingIds.add(tx.id);
    for (const fulfillment of tx.transaction.fulfillments) {
      if (fulfillment.input !== null) this.pendingSpenders.set(inputKey(fulfillment.input), tx.id);
    }
  }
}
