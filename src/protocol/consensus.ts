import { checkBlock, type Block } from './block.ts';
import {
  createTransaction,
  signTransaction,
  type InputConditionLookup,
  type Transaction,
} from './transaction.ts';
import { checkFulfillments, validateTransaction, type ValidationContext } from './validation.ts';
import { InvalidSignature } from './validation-errors.ts';
import { verifyVoteSignature, type Vote } from './vote.ts';
import type { ConditionBody } from './transaction.ts';

/**
 * The seed's consensus plugin API (`AbstractConsensusRules`), in camelCase. A plugin replaces or extends the
 * rules by which a node accepts transactions, blocks and votes; the default is BaseConsensusRules.
 */
export interface ConsensusRules {
  validateTransaction(ctx: ValidationContext, tx: unknown): Promise<Transaction>;
  /** block-level checks only (hash, federation signer, signature); its transactions are checked one by one */
  validateBlock(federation: readonly string[], block: unknown): Block;
  createTransaction(...args: Parameters<typeof createTransaction>): Transaction;
  signTransaction(
    tx: Transaction,
    privateKeys: string | readonly string[],
    lookup?: InputConditionLookup,
  ): Transaction;
  validateFulfillments(tx: Transaction, inputConditions: readonly ConditionBody[], now: string): boolean;
  verifyVoteSignature(block: Block, vote: Vote): boolean;
}

export class BaseConsensusRules implements ConsensusRules {
  validateTransaction(ctx: ValidationContext, tx: unknown): Promise<Transaction> {
    return validateTransaction(tx, ctx);
  }

  validateBlock(federation: readonly string[], block: unknown): Block {
    return checkBlock(block, federation);
  }

  createTransaction(...args: Parameters<typeof createTransaction>): Transaction {
    return createTransaction(...args);
  }

  signTransaction(
    tx: Transaction,
    privateKeys: string | readonly string[],
    lookup?: InputConditionLookup,
  ): Transaction {
    return signTransaction(tx, privateKeys, lookup);
  }

  validateFulfillments(tx: Transaction, inputConditions: readonly ConditionBody[], now: string): boolean {
    try {
      checkFulfillments(tx, inputConditions, now);
      return true;
    } catch (error) {
      if (error instanceof InvalidSignature) return false;
      throw error;
    }
  }

  verifyVoteSignature(block: Block, vote: Vote): boolean {
    return verifyVoteSignature(block, vote);
  }
}
