import type { Block } from '../protocol/block.ts';
import { isRecord } from '../protocol/block.ts';
import { serialize } from '../protocol/json.ts';
import type { Transaction } from '../protocol/transaction.ts';

/** Column arrays for one block's rows, ready for INSERT … SELECT FROM unnest(…): one statement per table. */
export interface BlockRows {
  txIds: string[];
  positions: number[];
  uuids: (string | null)[];
  docs: string[];
  outputs: { txIds: string[]; cids: number[]; owners: string[] };
  spends: { inputTxids: string[]; inputCids: number[]; spenders: string[] };
}

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

export function blockRows(block: Block): BlockRows {
  const rows: BlockRows = {
    txIds: [],
    positions: [],
    uuids: [],
    docs: [],
    outputs: { txIds: [], cids: [], owners: [] },
    spends: { inputTxids: [], inputCids: [], spenders: [] },
  };
  block.block.transactions.forEach((tx, position) => {
    rows.txIds.push(tx.id);
    rows.positions.push(position);
    rows.uuids.push(transactionUuid(tx));
    rows.docs.push(serialize(tx));
    for (const condition of tx.transaction.conditions) {
      for (const owner of conditionOwners(condition.condition.details)) {
        rows.outputs.txIds.push(tx.id);
        rows.outputs.cids.push(condition.cid);
        rows.outputs.owners.push(owner);
      }
    }
    for (const fulfillment of tx.transaction.fulfillments) {
      if (fulfillment.input === null) continue;
      rows.spends.inputTxids.push(fulfillment.input.txid);
      rows.spends.inputCids.push(fulfillment.input.cid);
      rows.spends.spenders.push(tx.id);
    }
  });
  return rows;
}
