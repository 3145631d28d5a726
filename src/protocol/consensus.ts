import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkBlock, type Block } from './block.ts';
import { BigchainDBError } from './errors.ts';
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

/** The plugin named in the configuration cannot be loaded or is not a plugin. */
export class ConsensusPluginError extends BigchainDBError {}

const PLUGIN_METHODS = [
  'validateTransaction',
  'validateBlock',
  'createTransaction',
  'signTransaction',
  'validateFulfillments',
  'verifyVoteSignature',
] as const satisfies readonly (keyof ConsensusRules)[];

export const DEFAULT_CONSENSUS_PLUGIN = 'default';

/**
 * Load the consensus rules named by config `consensus_plugin` (env `BIGCHAINDB_CONSENSUS_PLUGIN`):
 * `default`, or a module specifier (package name, or a relative/absolute path resolved from the working
 * directory) whose default export is the plugin class; `specifier#ExportName` picks a named export.
 */
export async function loadConsensusPlugin(
  name: string = process.env.BIGCHAINDB_CONSENSUS_PLUGIN ?? DEFAULT_CONSENSUS_PLUGIN,
): Promise<ConsensusRules> {
  if (name === DEFAULT_CONSENSUS_PLUGIN) return new BaseConsensusRules();
  const hash = name.lastIndexOf('#');
  const specifier = hash > 0 ? name.slice(0, hash) : name;
  const exportName = hash > 0 ? name.slice(hash + 1) : 'default';
  const url =
    specifier.startsWith('.') || isAbsolute(specifier)
      ? pathToFileURL(isAbsolute(specifier) ? specifier : `${process.cwd()}/${specifier}`).href
      : specifier;
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new ConsensusPluginError(
      `No consensus plugin found with name \`${name}\`: ${error instanceof Error ? error.message : String(error)}`,
      { name },
    );
  }
  const Plugin = module[exportName];
  if (typeof Plugin !== 'function') {
    throw new ConsensusPluginError(
      `\`${name}\` does not export a consensus plugin class as \`${exportName}\``,
      {
        name,
      },
    );
  }
  let rules: unknown;
  try {
    rules = new (Plugin as new () => unknown)();
  } catch (error) {
    throw new ConsensusPluginError(
      `consensus plugin \`${name}\` could not be constructed: ${error instanceof Error ? error.message : String(error)}`,
      { name },
    );
  }
  const missing = PLUGIN_METHODS.filter((m) => typeof (rules as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw new ConsensusPluginError(`\`${name}\` is not a consensus plugin: it lacks ${missing.join(', ')}`, {
      name,
      missing,
    });
  }
  return rules as ConsensusRules;
}
