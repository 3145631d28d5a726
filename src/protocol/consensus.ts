import { checkBlock, type Block } from './block.ts';
import {
  createTransaction,
  signTransaction,
  type InputConditionLookup,
  type Transaction,
} from './transaction.ts';
import {
  checkAgainstBatch,
  checkFulfillments,
  prepareTransaction,
  validateWithStages,
  type FulfillmentsJob,
  type ValidationContext,
  type ValidationStages,
  type VerifyFulfillments,
} from './validation.ts';
import { InvalidSignature, type ValidationError } from './validation-errors.ts';
import { verifyVoteSignature, type Vote } from './vote.ts';
import type { ConditionBody } from './transaction.ts';

/**
 * The seed's consensus plugin API (`AbstractConsensusRules`), in camelCase, plus one hook per validation
 * stage. A plugin replaces or extends the rules by which a node accepts transactions, blocks and votes; the
 * default is BaseConsensusRules. Every path that accepts a transaction (HTTP admission, block building,
 * voting, Bigchain.validateTransaction) calls validateTransaction, whose base form runs prepareTransaction
 * then verifyFulfillments, and then, for a batch, checkAgainstBatch in order: overriding any of them changes
 * what the node accepts everywhere.
 */
export interface ConsensusRules extends ValidationStages {
  /** the whole check of one transaction against `ctx` (which may carry the node's signature workers) */
  validateTransaction(ctx: ValidationContext, tx: unknown): Promise<Transaction>;
  /** stage 3: `tx`, valid against the chain, against the transactions accepted before it in its batch */
  checkAgainstBatch(ctx: ValidationContext, tx: Transaction): Promise<void>;
  /** block-level checks only (hash, federation signer, signature); its transactions are checked one by one */
  validateBlock(federation: readonly string[], block: unknown): Block;
  createTransaction(...args: Parameters<typeof createTransaction>): Transaction;
  signTransaction(
    tx: Transaction,
    privateKeys: string | readonly string[],
    lookup?: InputConditionLookup,
  ): Transaction;
  /** the seed's one-transaction, in-process signature check; the node's paths use verifyFulfillments */
  validateFulfillments(tx: Transaction, inputConditions: readonly ConditionBody[], now: string): boolean;
  verifyVoteSignature(block: Block, vote: Vote): boolean;
}

/**
 * The consensus rules of BigchainDB 0.6 (the seed's BaseConsensusRules): the `default` plugin, and what a
 * plugin class extends to change one rule and keep the others.
 */
export class BaseConsensusRules implements ConsensusRules {
  validateTransaction(ctx: ValidationContext, tx: unknown): Promise<Transaction> {
    return validateWithStages(this, tx, ctx);
  }

  prepareTransaction(ctx: ValidationContext, tx: unknown): Promise<FulfillmentsJob> {
    return prepareTransaction(tx, ctx);
  }

  verifyFulfillments(
    jobs: readonly FulfillmentsJob[],
    verify: VerifyFulfillments,
  ): Promise<(ValidationError | null)[]> {
    return verify(jobs);
  }

  checkAgainstBatch(ctx: ValidationContext, tx: Transaction): Promise<void> {
    return checkAgainstBatch(tx, ctx);
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
