import type { Block } from '../protocol/block.ts';
import { isRecord } from '../protocol/block.ts';
import { serialize } from '../protocol/json.ts';
import type { Transaction } from '../protocol/transaction.ts';

/**
 * Every public key in a condition's details, at any depth: each participant of a threshold "owns" the
 * output, as 0.6's condition_details_has_owner decided (weights ignored). Conditions given by URI alone
 * (no details) name no owner.
 */
export function conditionOwners(details: unknown, owners = new Set<string>()): Set<string> {
  if (!isRecord(details)) return owners;
  if (typeof details.public_key === 'string') owners.add(details.public_key);
  if (Array.isArray(details.subfulfillments)) {
    for (const sub of details.subfulfillments) conditionOwners(sub, owners);
  }
  if (isRecord(details.subfulfillment)) conditionOwners(details.subfulfillment, owners);
  return owners;
}

export function transactionUuid(tx: Transaction): string | null {
  const uuid: unknown = tx.transaction.data?.uuid;
  return typeof uuid === 'string' ? uuid : null;
}

/**
 * The index rows derived from blocks (transactions, outputs, spends), gathered column by column for
 * insertColumns: one statement per table, however many blocks and rows (up to the parameter limit).
 */
export class DerivedRows {
  readonly transactions = {
    txIds: [] as string[],
    blockIds: [] as string[],
    positions: [] as number[],
    uuids: [] as (string | null)[],
    live: [] as boolean[],
    docs: [] as string[],
  };
  readonly outputs = {
    txIds: [] as string[],
    cids: [] as number[],
    owners: [] as string[],
    blockIds: [] as string[],
    live: [] as boolean[],
  };
  readonly spends = {
    inputTxids: [] as string[],
    inputCids: [] as number[],
    spenders: [] as string[],
    blockIds: [] as string[],
    live: [] as boolean[],
  };

  /**
   * Adds a block's rows; `live` is false for a block decided invalid. `transactionTexts`: the canonical
   * texts of its transactions when the caller has them, else they are serialized here.
   */
  add(block: Block, live = true, transactionTexts?: readonly string[]): this {
    block.block.transactions.forEach((tx, position) => {
      const t = this.transactions;
      t.txIds.push(tx.id);
      t.blockIds.push(block.id);
      t.positions.push(position);
      t.uuids.push(transactionUuid(tx));
      t.live.push(live);
      t.docs.push(transactionTexts?.[position] ?? serialize(tx));
      for (const condition of tx.transaction.conditions) {
        for (const owner of conditionOwners(condition.condition.details)) {
          const o = this.outputs;
          o.txIds.push(tx.id);
          o.cids.push(condition.cid);
          o.owners.push(owner);
          o.blockIds.push(block.id);
          o.live.push(live);
        }
      }
      for (const fulfillment of tx.transaction.fulfillments) {
        if (fulfillment.input === null) continue;
        const s = this.spends;
        s.inputTxids.push(fulfillment.input.txid);
        s.inputCids.push(fulfillment.input.cid);
        s.spenders.push(tx.id);
        s.blockIds.push(block.id);
        s.live.push(live);
      }
    });
    return this;
  }
}
