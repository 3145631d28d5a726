/**
 * `bigchaindb`: the server API. `Bigchain` is the seed's Python `Bigchain` class in camelCase (the node's
 * view of its database: create, sign, write and look up transactions, blocks and votes); `BigchainNode` runs
 * the pipelines that pack the backlog into blocks, vote and decide elections; `openStorage` opens a node's
 * database on any backend; `loadConfig` reads a configuration as the `bigchaindb` command does. The protocol
 * (transactions, crypto-conditions, blocks, votes: pure, no I/O) is re-exported; `bigchaindb/protocol` has it
 * alone, and `bigchaindb/driver` is the HTTP client.
 */
export * from './protocol/index.ts';
export {
  Bigchain,
  GenesisBlockAlreadyExistsError,
  MultipleValidBlocksError,
  type BigchainOptions,
  type BlockElection,
  type ElectionIndex,
  type TransactionStatus,
  type TransactionWithStatus,
} from './node/bigchain.ts';
export {
  BigchainNode,
  DEFAULT_BLOCK_SIZE,
  nodeOptions,
  type NodeHealth,
  type NodeOptions,
} from './node/node.ts';
export { loadConsensusPlugin, ConsensusPluginError } from './node/consensus-plugin.ts';
export { silentLogger, streamLogger, type Logger, type LogLevel } from './node/log.ts';
export {
  ConfigFileNotFoundError,
  ConfigurationError,
  defaultConfig,
  defaultConfigPath,
  KeypairNotFoundException,
  loadConfig,
  type LoadedConfig,
  type LoadOptions,
  type NodeConfig,
} from './config/config.ts';
export {
  DEFAULT_DATABASE_CONFIG,
  IN_MEMORY_PATH,
  openStorage,
  Storage,
  type DatabaseConfig,
  type OpenOptions,
} from './storage/index.ts';
