import { createBlock, isGenesisBlock, prepareGenesisBlock, type Block } from '../protocol/block.ts';
import { BaseConsensusRules, type ConsensusRules } from '../protocol/consensus.ts';
import { loadConsensusPlugin } from './consensus-plugin.ts';
import { timestamp, type KeyPair } from '../protocol/crypto.ts';
import { electionStatus, TX_IN_BACKLOG, type ElectionStatus } from '../protocol/election.ts';
import { BigchainDBError } from '../protocol/errors.ts';
import {
  createInputCondition,
  lookupInTransactions,
  type Transaction,
  type TransactionInput,
} from '../protocol/transaction.ts';
import { ValidationError } from '../protocol/validation-errors.ts';
import { createVote, ImproperVoteError, type Vote } from '../protocol/vote.ts';
import { configFileNamed, loadConfig, nodeKeyPair, type NodeConfig } from '../config/config.ts';
import { DatabaseAlreadyExists } from '../storage/errors.ts';
import { openStorage, type OpenOptions } from '../storage/open.ts';
import type { BlockStatus, Storage } from '../storage/storage.ts';
import { ChainView } from './chain-view.ts';

export type TransactionStatus = BlockStatus | typeof TX_IN_BACKLOG;

export interface TransactionWithStatus {
  transaction: Transaction | null;
  status: TransactionStatus | null;
  /** why the node rejected it (status `invalid`), e.g. `DoubleSpend: …` */
  reason?: string;
}

/** 0.6 GenesisBlockAlreadyExistsError. */
export class GenesisBlockAlreadyExistsError extends BigchainDBError {}

/** A transaction in two valid blocks: the chain is broken (storage's unique live index should make it impossible). */
export class MultipleValidBlocksError extends BigchainDBError {}

export type ElectionIndex = 'transaction_id' | 'payload_uuid';

/**
 * How this node differs from the node and federation the database's genesis block was made by and for
 * (Bigchain.checkIdentity): the keys on both sides, and which are missing or extra.
 */
export interface IdentityMismatch {
  genesisBlock: string;
  /** the key that signed the genesis block */
  genesisCreator: string;
  /** the genesis block's voters: the federation when it was made */
  genesisFederation: string[];
  /** this node's key */
  me: string;
  /** this node's federation: its keyring and its own key */
  federation: string[];
  /** whether the genesis creator is this node or in its keyring */
  creatorKnown: boolean;
  /** keys of the genesis federation that this node's federation lacks */
  missing: string[];
  /** keys of this node's federation that the genesis federation lacks */
  extra: string[];
}

export interface BlockElection {
  id: string;
  block: { voters: string[] };
  votes: Vote[];
}

export interface BigchainOptions {
  storage: Storage;
  keyPair: KeyPair;
  /** the other federation nodes' public keys */
  keyring?: readonly string[];
  consensus?: ConsensusRules;
}

/**
 * The seed's Python server API (`bigchaindb.Bigchain`) in camelCase, over Storage. Reads that 0.6 answered
 * with full scans are index lookups here, and validation loads what it needs per batch (ChainView).
 *
 * @example
 * ```ts
 * import { Bigchain, generateKeyPair } from 'bigchaindb';
 *
 * // The node of ~/.bigchaindb (or BIGCHAINDB_CONFIG_PATH), environment applied, as `bigchaindb` reads it.
 * const b = await Bigchain.open();
 * const alice = generateKeyPair();
 * const tx = await b.signAsNode(b.createTransaction(b.me, alice.publicKey, null, 'CREATE'));
 * await b.writeTransaction(tx);
 * console.log((await b.getTransactionWithStatus(tx.id)).status); // 'backlog', then 'undecided', 'valid'
 * await b.close();
 * ```
 */
export class Bigchain {
  readonly storage: Storage;
  readonly me: string;
  readonly nodesExceptMe: readonly string[];
  /** the voters of every block this node creates: its keyring, then itself (0.6 order) */
  readonly federation: readonly string[];
  readonly consensus: ConsensusRules;
  /**
   * This node's keypair. Its private key (0.6's public `me_private` attribute) stays in here: it signs blocks,
   * votes and the genesis block, and the node's CREATEs through signAsNode.
   */
  readonly #keyPair: KeyPair;

  constructor(options: BigchainOptions) {
    this.storage = options.storage;
    this.#keyPair = options.keyPair;
    this.me = options.keyPair.publicKey;
    this.nodesExceptMe = (options.keyring ?? []).filter((key) => key !== this.me);
    this.federation = [...this.nodesExceptMe, this.me];
    this.consensus = options.consensus ?? new BaseConsensusRules();
  }

  /**
   * The node of a configuration: its keypair and keyring, database and consensus plugin. Without one, the
   * configuration is read as the `bigchaindb` command reads it (the seed's `Bigchain()`): the file named by
   * BIGCHAINDB_CONFIG_PATH (which must exist) or ~/.bigchaindb (if it exists) over the defaults, then every
   * BIGCHAINDB_* variable. With `create`, a database that does not exist yet is created (empty: see
   * createGenesisBlock); see openStorage.
   *
   * @example
   * ```ts
   * import { Bigchain } from 'bigchaindb';
   *
   * const b = await Bigchain.open(); // ~/.bigchaindb, as `bigchaindb start` reads it
   * console.log(b.me, await b.getLastVotedBlock());
   * await b.close();
   * ```
   */
  static async open(config?: NodeConfig, options: OpenOptions = {}): Promise<Bigchain> {
    config ??= (await loadConfig({ requireFile: configFileNamed(undefined) })).config;
    const keyPair = nodeKeyPair(config);
    const consensus = await loadConsensusPlugin(config.consensus_plugin);
    const storage = await openStorage(config.database, options);
    return new Bigchain({ storage, keyPair, keyring: config.keyring, consensus });
  }

  close(): Promise<void> {
    return this.storage.close();
  }

  // --- transactions ---------------------------------------------------------------------------------------

  createTransaction(...args: Parameters<ConsensusRules['createTransaction']>): Transaction {
    return this.consensus.createTransaction(...args);
  }

  /** Signs with the conditions of the outputs it spends, read from the chain. */
  async signTransaction(tx: Transaction, privateKeys: string | readonly string[]): Promise<Transaction> {
    return this.consensus.signTransaction(
      tx,
      privateKeys,
      lookupInTransactions(await this.inputTransactions(tx)),
    );
  }

  /** signTransaction with this node's private key: 0.6's `b.sign_transaction(tx, b.me_private)`. */
  signAsNode(tx: Transaction): Promise<Transaction> {
    return this.signTransaction(tx, this.#keyPair.privateKey);
  }

  /** Whether every fulfillment is valid for the output it spends (signatures only, as in 0.6). */
  async validateFulfillments(tx: Transaction): Promise<boolean> {
    const lookup = lookupInTransactions(await this.inputTransactions(tx));
    const conditions = tx.transaction.fulfillments.map((f) =>
      f.input === null ? createInputCondition(f) : lookup(f),
    );
    if (conditions.some((condition) => condition === undefined)) return false;
    return this.consensus.validateFulfillments(
      tx,
      conditions as NonNullable<(typeof conditions)[number]>[],
      timestamp(),
    );
  }

  /** Who should put a new transaction in a block: another federation node at random, or this one alone. */
  pickAssignee(): string {
    const others = this.nodesExceptMe;
    return others.length === 0 ? this.me : (others[Math.floor(Math.random() * others.length)] as string);
  }

  /**
   * Puts a transaction into the backlog, assigned to another federation node at random (or to this one
   * when it is alone). An id already waiting is reported as a duplicate, not written twice.
   */
  async writeTransaction(
    tx: Transaction,
  ): Promise<{ inserted: number; duplicates: number; assignee: string }> {
    const assignee = this.pickAssignee();
    const result = await this.storage.writeBacklog([{ transaction: tx, assignee }]);
    return { inserted: result.inserted.length, duplicates: result.duplicates.length, assignee };
  }

  /**
   * The transaction from a valid block, else an undecided one, else the backlog (0.6 §13.12 fixed), else
   * the rejected ones.
   */
  async getTransaction(txid: string): Promise<Transaction | null> {
    return (await this.getTransactionWithStatus(txid)).transaction;
  }

  /**
   * The transaction and its status: `valid` or `undecided` (its block), `backlog` (waiting for a block),
   * `invalid` with the `reason` when the node rejected it (0.6 dropped such transactions without a trace),
   * or null for an id the node has never seen.
   */
  async getTransactionWithStatus(txid: string): Promise<TransactionWithStatus> {
    const copies = (await this.storage.getTransactions([txid])).filter((copy) => copy.status !== 'invalid');
    const chosen = copies.find((copy) => copy.status === 'valid') ?? copies[0];
    if (chosen !== undefined) return { transaction: chosen.transaction, status: chosen.status };
    const waiting = (await this.storage.getBacklog([txid])).get(txid);
    if (waiting !== undefined) return { transaction: waiting.transaction, status: TX_IN_BACKLOG };
    const rejected = (await this.storage.getRejected([txid])).get(txid);
    return rejected === undefined
      ? { transaction: null, status: null }
      : { transaction: rejected.transaction, status: 'invalid', reason: rejected.reason };
  }

  async getStatus(txid: string): Promise<TransactionStatus | null> {
    return (await this.getTransactionWithStatus(txid)).status;
  }

  /** `{ blockId: status }` of every block holding the transaction, or null when none does. */
  async getBlocksStatusContainingTx(txid: string): Promise<Record<string, BlockStatus> | null> {
    const blocks = await this.storage.blocksContainingTransaction(txid);
    if (blocks.length === 0) return null;
    const valid = blocks.filter((block) => block.status === 'valid').map((block) => block.blockId);
    if (valid.length > 1) {
      throw new MultipleValidBlocksError(
        `Transaction ${txid} is present in multiple valid blocks: ${valid.join(', ')}`,
        { txid, blockIds: valid },
      );
    }
    return Object.fromEntries(blocks.map((block) => [block.blockId, block.status]));
  }

  /**
   * Election information of the blocks found through a secondary index (`transaction_id` or
   * `payload_uuid`): each block's id, its voters and the votes cast on it so far. (0.6 plucked a `votes`
   * field its blocks never had; the votes live in their own table, and are given here.)
   */
  async searchBlockElectionOnIndex(value: string, index: ElectionIndex): Promise<BlockElection[]> {
    let ids: string[];
    if (index === 'transaction_id') {
      ids = (await this.storage.blocksContainingTransaction(value)).map((block) => block.blockId);
    } else if (index === 'payload_uuid') {
      ids = [...new Set((await this.storage.transactionsByUuid(value)).map((copy) => copy.blockId))];
    } else {
      throw new BigchainDBError(
        `unknown index ${JSON.stringify(index)}: use transaction_id or payload_uuid`,
        {
          index,
        },
      );
    }
    const [blocks, votes] = await Promise.all([this.storage.getBlocks(ids), this.storage.getVotes(ids)]);
    return ids.flatMap((id) => {
      const stored = blocks.get(id);
      if (stored === undefined) return [];
      const cast = (votes.get(id) ?? []).map((vote) => vote.vote);
      return [{ id, block: { voters: stored.block.block.voters }, votes: cast }];
    });
  }

  async getTxByPayloadUuid(uuid: string): Promise<Transaction[]> {
    return (await this.storage.transactionsByUuid(uuid)).map((copy) => copy.transaction);
  }

  /** The transaction in a valid or undecided block that spends the output, or null. */
  async getSpent(input: TransactionInput): Promise<Transaction | null> {
    const [spend] = await this.storage.getSpenders([input]);
    if (spend === undefined) return null;
    const copies = await this.storage.getTransactions([spend.spender]);
    return copies.find((copy) => copy.blockId === spend.blockId)?.transaction ?? null;
  }

  /** The unspent outputs `owner` holds (alone or in a threshold) in valid or undecided blocks. */
  async getOwnedIds(owner: string): Promise<TransactionInput[]> {
    const outputs = await this.storage.outputsByOwner(owner, { unspent: true });
    return outputs.map((output) => ({ txid: output.txid, cid: output.cid }));
  }

  async validateTransaction(tx: unknown): Promise<Transaction> {
    const view = await ChainView.load(this.storage, [tx], { federation: this.federation });
    return this.consensus.validateTransaction(view, tx);
  }

  /** The transaction when valid, else false (0.6 returned the transaction or False). */
  async isValidTransaction(tx: unknown): Promise<Transaction | false> {
    try {
      return await this.validateTransaction(tx);
    } catch (error) {
      if (error instanceof ValidationError) return false;
      throw error;
    }
  }

  // --- blocks and votes -----------------------------------------------------------------------------------

  /** `transactionTexts`: their canonical texts, when known (then not serialized again). */
  createBlock(transactions: readonly Transaction[], transactionTexts?: readonly string[]): Block {
    return createBlock(transactions, this.#keyPair, this.federation, timestamp(), transactionTexts);
  }

  writeBlock(block: Block, transactionTexts?: readonly string[]): Promise<void> {
    return this.storage.writeBlock(block, transactionTexts);
  }

  /** The genesis block this node would write: a GENESIS transaction in a block it signs. */
  prepareGenesisBlock(): Block {
    return prepareGenesisBlock(this.#keyPair, this.federation);
  }

  /** Creates the schema and writes this node's genesis block; refuses when the chain exists. */
  async createGenesisBlock(): Promise<Block> {
    if (await this.storage.isInitialized())
      throw new GenesisBlockAlreadyExistsError('Cannot create the Genesis block');
    const genesis = this.prepareGenesisBlock();
    try {
      await this.storage.init(genesis);
    } catch (error) {
      // Another node of the federation initialized the shared database first.
      if (error instanceof DatabaseAlreadyExists)
        throw new GenesisBlockAlreadyExistsError('Cannot create the Genesis block');
      throw error;
    }
    return genesis;
  }

  /**
   * Whether this node belongs to the chain in its database: undefined when the database holds no chain yet
   * or when the genesis block was made by this node or a key in its keyring for the same federation (as a
   * set: the order may differ); else what differs. A node started with the wrong configuration (another
   * keypair or keyring) would otherwise run on the chain as a stranger to it.
   */
  async checkIdentity(): Promise<IdentityMismatch | undefined> {
    if (!(await this.storage.isInitialized())) return undefined;
    const id = await this.storage.genesisBlockId();
    const stored = await this.storage.getBlock(id);
    if (stored === undefined)
      throw new BigchainDBError(`the genesis block ${id} is missing from the database`, { id });
    const { node_pubkey: creator, voters } = stored.block.block;
    const genesisFederation = [...new Set(voters)];
    const federation = [...new Set(this.federation)];
    const missing = genesisFederation.filter((key) => !federation.includes(key));
    const extra = federation.filter((key) => !genesisFederation.includes(key));
    const creatorKnown = federation.includes(creator);
    if (creatorKnown && missing.length === 0 && extra.length === 0) return undefined;
    return {
      genesisBlock: id,
      genesisCreator: creator,
      genesisFederation,
      me: this.me,
      federation,
      creatorKnown,
      missing,
      extra,
    };
  }

  /**
   * Block-level checks, then every transaction against the chain without the block's own rows, in block
   * order (a later transaction conflicting with an earlier one fails). A block this node has already
   * voted on is returned as is.
   */
  async validateBlock(block: unknown): Promise<Block> {
    const checked = this.consensus.validateBlock(this.federation, block);
    if (isGenesisBlock(checked) || (await this.hasPreviousVote(checked))) return checked;
    const txs = checked.block.transactions;
    const federation = this.federation;
    const view = await ChainView.load(this.storage, txs, { federation, exceptBlock: checked.id });
    for (const tx of txs) view.include(await this.consensus.validateTransaction(view, tx));
    return checked;
  }

  async isValidBlock(block: unknown): Promise<boolean> {
    try {
      await this.validateBlock(block);
      return true;
    } catch (error) {
      if (error instanceof BigchainDBError) return false;
      throw error;
    }
  }

  /** Whether this node has voted on the block; a stored vote that does not verify is an error. */
  async hasPreviousVote(block: Block): Promise<boolean> {
    const stored = await this.storage.getVote(block.id, this.me);
    if (stored === undefined) return false;
    if (!this.consensus.verifyVoteSignature(block, stored.vote))
      throw ImproperVoteError.forBlock(block.id, this.me);
    return true;
  }

  vote(
    blockId: string,
    previousBlockId: string,
    decision: boolean,
    invalidReason: string | null = null,
  ): Vote {
    return createVote(this.#keyPair, blockId, previousBlockId, decision, invalidReason);
  }

  /** Stores the vote; false when this node had already voted on that block. */
  async writeVote(vote: Vote): Promise<boolean> {
    return (await this.storage.writeVotes([vote])).inserted.length === 1;
  }

  /** The block this node voted on last, or the genesis block before its first vote. */
  async getLastVotedBlock(): Promise<Block> {
    const last = await this.storage.lastVote(this.me);
    const id = last?.vote.vote.voting_for_block ?? (await this.storage.genesisBlockId());
    const stored = await this.storage.getBlock(id);
    if (stored === undefined)
      throw new BigchainDBError(`the block ${id} this node last voted on is missing`, { id });
    return stored.block;
  }

  /** Blocks this node has not voted on, in the order they were written, genesis excluded. */
  async getUnvotedBlocks(): Promise<Block[]> {
    const genesis = await this.storage.genesisBlockId();
    return (await this.storage.unvotedBlocks(this.me))
      .map((stored) => stored.block)
      .filter((block) => block.id !== genesis);
  }

  async blockElectionStatus(block: Block): Promise<ElectionStatus> {
    const votes = (await this.storage.getVotes([block.id])).get(block.id) ?? [];
    return electionStatus(
      block,
      votes.map((stored) => stored.vote),
      (b, v) => this.consensus.verifyVoteSignature(b, v),
    );
  }

  private async inputTransactions(tx: Transaction): Promise<Transaction[]> {
    const ids = tx.transaction.fulfillments.flatMap((f) => (f.input === null ? [] : [f.input.txid]));
    if (ids.length === 0) return [];
    return (await this.storage.getTransactions(ids))
      .filter((copy) => copy.live)
      .map((copy) => copy.transaction);
  }
}
