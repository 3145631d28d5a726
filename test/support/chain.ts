import { createBlock, prepareGenesisBlock, type Block } from '../../src/protocol/block.ts';
import { generateKeyPair, type KeyPair } from '../../src/protocol/crypto.ts';
import {
  createAndSignTx,
  lookupInTransactions,
  type Transaction,
  type TransactionInput,
} from '../../src/protocol/transaction.ts';

/**
 * Signed transactions and blocks for storage and node tests: a federation node that creates assets and
 * packs blocks, and users that own and transfer them.
 */
export class TestChain {
  readonly genesis: Block;
  private readonly known: Transaction[] = [];

  /** `node` signs the CREATEs: for a federation's chain, one of its nodes */
  constructor(readonly node: KeyPair = generateKeyPair()) {
    this.genesis = prepareGenesisBlock(node, [node.publicKey]);
  }

  /** A CREATE by the node giving a new asset to `owners` (one key, or several for a threshold). */
  create(owners: string | string[], payload: Record<string, unknown> = { n: Math.random() }): Transaction {
    const tx = createAndSignTx(this.node.privateKey, this.node.publicKey, owners, null, 'CREATE', {
      payload: payload as never,
    });
    this.known.push(tx);
    return tx;
  }

  /** A TRANSFER of output `cid` of `input` from `owner` to `newOwner`. */
  transfer(input: Transaction, owner: KeyPair, newOwner: string, cid = 0): Transaction {
    const txInput: TransactionInput = { txid: input.id, cid };
    const tx = createAndSignTx(owner.privateKey, owner.publicKey, newOwner, txInput, 'TRANSFER', {
      lookupInputCondition: lookupInTransactions(this.known),
    });
    this.known.push(tx);
    return tx;
  }

  block(transactions: Transaction[]): Block {
    return createBlock(transactions, this.node, [this.node.publicKey]);
  }
}

/** A copy of `tx` whose first signature is `donor`'s: well-formed, but signed for another message. */
export function forged(tx: Transaction, donor: Transaction): Transaction {
  const copy = structuredClone(tx);
  copy.transaction.fulfillments[0]!.fulfillment = donor.transaction.fulfillments[0]!.fulfillment;
  return copy;
}

export { generateKeyPair };
