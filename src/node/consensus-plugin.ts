/**
 * Finding the consensus plugin a configuration names: module resolution and dynamic import are I/O, so they
 * live here, beside the node, and the rules themselves (protocol/consensus.ts) stay pure.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BaseConsensusRules, type ConsensusRules } from '../protocol/consensus.ts';
import { BigchainDBError, messageOf } from '../protocol/errors.ts';

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

/** The validation-stage hooks, which the seed's plugin API did not have: the base rules' when missing. */
const STAGE_HOOKS = [
  'prepareTransaction',
  'verifyFulfillments',
  'checkAgainstBatch',
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
    throw new ConsensusPluginError(`No consensus plugin found with name \`${name}\`: ${messageOf(error)}`, {
      name,
    });
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
      `consensus plugin \`${name}\` could not be constructed: ${messageOf(error)}`,
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
  const plugin = rules as Record<string, unknown>;
  const base = new BaseConsensusRules();
  for (const hook of STAGE_HOOKS)
    if (typeof plugin[hook] !== 'function') plugin[hook] = base[hook].bind(base);
  return rules as ConsensusRules;
}
