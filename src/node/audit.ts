/**
 * The seed's "internal watchdogs": a read-only audit of everything a node has stored. Blocks and votes are
 * kept as the canonical text that was hashed and signed, so each one can be re-verified from the database
 * alone; the statuses, the index tables (transactions, outputs, spends) and the no-double-spend invariant
 * are then checked against them. See docs/audit.md.
 *
 * Like backup, the audit reads one REPEATABLE READ, READ ONLY snapshot (a node may keep writing on a
 * PostgreSQL server meanwhile, and its statuses, votes and rows must be seen at one instant), walks the
 * blocks in insertion order a batch at a time through a cursor, every query on the snapshot's Storage.
 */
import {
  blockHashIsValid,
  blockSignatureIsValid,
  isGenesisBlock,
  isRecord,
  shellBlock,
  type Block,
} from '../protocol/block.ts';
import { electionStatus, type ElectionStatus } from '../protocol/election.ts';
import { serialize } from '../protocol/json.ts';
import type { ConditionBody, Transaction } from '../protocol/transaction.ts';
import {
  checkFulfillments,
  checkTransactionShape,
  computeTransactionId,
  resolveInputConditions,
  type ValidationContext,
} from '../protocol/validation.ts';
import { MultipleVotesError, verifyVoteSignature, type Vote } from '../protocol/vote.ts';
import { DatabaseDoesNotExist } from '../storage/errors.ts';
import { isBlockShaped } from '../storage/maintenance.ts';
import { blockText, DerivedRows } from '../storage/rows.ts';
import type { BlockRecord, BlockStatus, Storage, TransactionRecord, VoteRecord } from '../storage/storage.ts';
import type { VerifyJob, VerifyPool } from './verify-pool.ts';

export type AuditProblemKind = 'block' | 'vote' | 'transaction' | 'status' | 'chain';

/** One thing found wrong, named by the keys an operator can look it up with. */
export interface AuditProblem {
  /**
   * `block`: a block's text, id, signature or row; `vote`: a vote's; `transaction`: a transaction in a block
   * or its index rows; `status`: a block's stored status against its votes; `chain`: across blocks
   */
  kind: AuditProblemKind;
  /** the block concerned: the id its row is stored under, or the block a vote or index row names */
  blockId: string;
  /** the voter a vote row is stored under */
  voter?: string;
  txid?: string;
  message: string;
}

export interface AuditProgress {
  blocks: number;
  votes: number;
  /** transactions in the blocks walked, every copy counted */
  transactions: number;
}

export interface AuditReport extends AuditProgress {
  problems: AuditProblem[];
  /** problems found beyond `maxProblems`: passed to onProblem, counted here, not kept */
  omittedProblems: number;
}

export interface AuditOptions {
  /** blocks read per query; default 20 (a full block is 1000 transactions) */
  batchSize?: number;
  /** called after each batch of blocks with their votes and transactions */
  onProgress?(done: AuditProgress): void;
  /** called with each problem as it is found */
  onProblem?(problem: AuditProblem): void;
  /** problems kept in the report; default 10,000, so a wrecked database cannot exhaust memory */
  maxProblems?: number;
  /**
   * The federation's public keys: block creators and CREATE signers must be among them. Without it each
   * block's own voters stand for the federation, which checks that a block is internally consistent only.
   */
  federation?: readonly string[];
  /** checks the fulfillments on these worker threads instead of this one */
  pool?: VerifyPool;
}

const DEFAULT_BATCH_SIZE = 20;
const DEFAULT_MAX_PROBLEMS = 10_000;
const EDITED = 'it was edited outside the node';

/**
 * Re-verifies every stored block, vote and transaction, and the statuses and index rows derived from them;
 * modifies nothing. Throws only when the audit itself cannot run (no database, a lost connection): every
 * inconsistency in the data is reported as a problem instead.
 */
export async function auditChain(storage: Storage, options: AuditOptions = {}): Promise<AuditReport> {
  const batchSize = wholeNumber(options.batchSize ?? DEFAULT_BATCH_SIZE, 'batchSize', 1);
  const maxProblems = wholeNumber(options.maxProblems ?? DEFAULT_MAX_PROBLEMS, 'maxProblems', 0);
  if (!(await storage.isInitialized())) throw DatabaseDoesNotExist.named(storage.name);
  return storage.snapshot((snapshot) => new Audit(snapshot, options, batchSize, maxProblems).run());
}

/** One line per problem, for logs and the CLI. */
export function formatProblem(problem: AuditProblem): string {
  const names = [
    problem.blockId === '' ? undefined : `block ${problem.blockId}`,
    problem.voter === undefined ? undefined : `voter ${problem.voter}`,
    problem.txid === undefined ? undefined : `transaction ${problem.txid}`,
  ].filter((name) => name !== undefined);
  return `${problem.kind}: ${[...names, problem.message].join(': ')}`;
}

/** An outputs or spends row reduced to what identifies it, for comparing multisets. */
interface IndexRow {
  key: string;
  /** the transaction the row belongs to: the output's, or the spender */
  txid: string;
  label: string;
  live: boolean;
}

/** A stored block after its own checks. */
interface Checked {
  row: BlockRecord;
  /** the document, when it is shaped like a block */
  block: Block | undefined;
  /** its id is the hash of its body */
  intact: boolean;
  /** the row's id is the genesis block's */
  genesis: boolean;
  /** the index rows it should have; absent when a transaction is too malformed to index */
  rows: DerivedRows | undefined;
  /** what its stored votes decide; absent for the genesis block and blocks that cannot be read */
  outcome: ElectionStatus | undefined;
}

class Audit {
  private readonly done: AuditProgress = { blocks: 0, votes: 0, transactions: 0 };
  private readonly problems: AuditProblem[] = [];
  private omitted = 0;
  private genesisId: string | undefined;
  private seenBlocks = false;
  private seenGenesis = false;

  constructor(
    /** bound to the audit's snapshot */
    private readonly storage: Storage,
    private readonly options: AuditOptions,
    private readonly batchSize: number,
    private readonly maxProblems: number,
  ) {}

  async run(): Promise<AuditReport> {
    this.genesisId = await this.storage.meta('genesis_block');
    if (this.genesisId === undefined) {
      this.report({ kind: 'chain', blockId: '', message: 'bigchaindb_meta names no genesis block' });
    }
    // One batch's signatures are checked on the pool while the next batch is read and checked here; no
    // more than one is in flight, so memory stays bounded.
    let verifying: Promise<void> = Promise.resolve();
    await this.storage.forEachBlockRecord(this.batchSize, async (rows) => {
      const { verified } = await this.checkBatch(rows);
      // Handled here so that a failure is not "unhandled" while the previous batch is awaited; the await
      // below still throws it.
      verified.catch(() => undefined);
      await verifying;
      verifying = verified;
      this.options.onProgress?.({ ...this.done });
    });
    await verifying;
    if (this.genesisId !== undefined && !this.seenGenesis) {
      this.report({
        kind: 'chain',
        blockId: this.genesisId,
        message: 'the genesis block named in bigchaindb_meta is not stored',
      });
    }
    await this.checkOrphans();
    await this.checkValidDuplicates();
    this.options.onProgress?.({ ...this.done });
    return { ...this.done, problems: this.problems, omittedProblems: this.omitted };
  }

  private report(problem: AuditProblem): void {
    this.options.onProblem?.(problem);
    if (this.problems.length < this.maxProblems) this.problems.push(problem);
    else this.omitted++;
  }

  /** Checks a batch; `verified` is the check of its fulfillments, which may still be running. */
  private async checkBatch(rows: readonly BlockRecord[]): Promise<{ verified: Promise<void> }> {
    const checked = rows.map((row) => this.checkBlock(row));
    const ids = rows.map((row) => row.id);
    await this.checkVotes(checked, ids);
    await this.checkIndexRows(checked, ids);
    const verifying = await this.checkTransactions(checked);
    this.done.blocks += rows.length;
    return verifying;
  }

  // --- blocks -------------------------------------------------------------------------------------------

  private checkBlock(row: BlockRecord): Checked {
    // Without the meta row, the first block stands for the genesis block (the meta problem is reported).
    const genesis = this.genesisId === undefined ? !this.seenBlocks : row.id === this.genesisId;
    const checked: Checked = {
      row,
      block: undefined,
      intact: false,
      genesis,
      rows: undefined,
      outcome: undefined,
    };
    const problem = (message: string) => this.report({ kind: 'block', blockId: row.id, message });
    if (!this.seenBlocks && this.genesisId !== undefined && !genesis) {
      this.report({
        kind: 'chain',
        blockId: row.id,
        message: `the first stored block is not the genesis block ${this.genesisId}`,
      });
    }
    this.seenBlocks = true;
    if (genesis) this.seenGenesis = true;

    let doc: unknown;
    try {
      doc = JSON.parse(row.doc);
    } catch {
      problem(`the stored text is not JSON: ${EDITED}`);
      return checked;
    }
    if (!isBlockShaped(doc)) {
      problem(
        'the stored document is not a block: it needs exactly "id", "block" (timestamp, transactions, ' +
          'node_pubkey, voters) and "signature"',
      );
      return checked;
    }
    const block = doc;
    checked.block = block;
    try {
      // Keyed by the row's id, which is what the index rows name.
      checked.rows = new DerivedRows().add({ ...block, id: row.id }, row.status !== 'invalid');
    } catch {
      // A transaction too malformed to index: the transaction checks name it.
    }
    if (!isCanonical(row.doc, block, checked.rows)) {
      problem(`the stored text is not the canonical serialization of its document: ${EDITED}`);
    }
    const columns = differingBlockColumns(row, block);
    if (columns.length > 0) problem(disagreement(columns));
    checked.intact = blockHashIsValid(block);
    if (!checked.intact) {
      problem('the id is not the hash of the block body: the block was changed after it was signed');
    } else if (!blockSignatureIsValid(block)) {
      problem(`the signature does not verify with its node_pubkey ${block.block.node_pubkey}`);
    }
    const federation = this.options.federation ?? block.block.voters;
    if (!federation.includes(block.block.node_pubkey)) {
      const members = this.options.federation === undefined ? 'one of its voters' : 'in the federation';
      problem(`it was created by ${block.block.node_pubkey}, which is not ${members}`);
    }
    if (genesis && !safely(() => isGenesisBlock(block), false)) {
      this.report({
        kind: 'chain',
        blockId: row.id,
        message: 'the genesis block does not start with a GENESIS transaction',
      });
    }
    return checked;
  }

  // --- votes and statuses -------------------------------------------------------------------------------

  private async checkVotes(checked: readonly Checked[], ids: readonly string[]): Promise<void> {
    const rows = await this.storage.voteRecords(ids);
    const byBlock = groupBy(rows, (row) => row.block_id);
    for (const entry of checked) {
      const cast: Vote[] = [];
      for (const row of byBlock.get(entry.row.id) ?? []) {
        const vote = this.checkVote(row, entry.block);
        if (vote !== undefined) cast.push(vote);
      }
      this.checkStatus(entry, cast);
    }
  }

  /** The vote's own checks; returns its document when it can be counted at all. */
  private checkVote(row: VoteRecord, block: Block | undefined): Vote | undefined {
    this.done.votes++;
    const problem = (message: string) =>
      this.report({ kind: 'vote', blockId: row.block_id, voter: row.voter, message });
    let doc: unknown;
    try {
      doc = JSON.parse(row.doc);
    } catch {
      problem(`the stored text is not JSON: ${EDITED}`);
      return undefined;
    }
    if (!isRecord(doc) || !isRecord(doc.vote)) {
      problem('the stored document is not a vote: it needs "node_pubkey", "signature" and "vote"');
      return undefined;
    }
    const vote = doc as unknown as Vote;
    if (!safely(() => serialize(vote) === row.doc, false)) {
      problem(`the stored text is not the canonical serialization of its document: ${EDITED}`);
    }
    const body = vote.vote;
    if (body.voting_for_block !== row.block_id || vote.node_pubkey !== row.voter) {
      problem(
        `the row is stored under this block and voter, but its document is a vote by ${String(vote.node_pubkey)} ` +
          `on block ${String(body.voting_for_block)}`,
      );
    }
    const columns = [
      row.previous_block === body.previous_block ? undefined : 'previous_block',
      row.is_block_valid === body.is_block_valid ? undefined : 'is_block_valid',
      row.vote_timestamp === body.timestamp ? undefined : 'vote_timestamp',
    ].filter((column) => column !== undefined);
    if (columns.length > 0) problem(disagreement(columns));
    // Without a readable block there are no voters to check against; the block's problem is reported.
    if (block === undefined) return vote;
    if (!block.block.voters.includes(vote.node_pubkey)) {
      problem(`${String(vote.node_pubkey)} is not one of the block's voters`);
    } else if (!verifyVoteSignature(shellBlock(row.block_id, block.block.voters), vote)) {
      problem('the signature does not verify: the vote was changed after it was signed');
    }
    return vote;
  }

  /**
   * A block stored valid or invalid must be what its stored votes decide. A block still stored undecided
   * is never a problem: its election may not have run yet, and the node holds an "invalid" caused by yes
   * votes split over previous blocks as undecided until no further vote can change it.
   */
  private checkStatus(entry: Checked, cast: readonly Vote[]): void {
    const { row, block } = entry;
    if (block === undefined) return;
    const problem = (message: string) => this.report({ kind: 'status', blockId: row.id, message });
    if (entry.genesis) {
      // Nobody votes on the genesis block, so no election can have decided it (the restore rule counts it
      // valid while it stays stored undecided).
      if (row.status === 'invalid') problem('the genesis block is stored invalid, but it is never voted on');
      return;
    }
    const shell = shellBlock(row.id, block.block.voters);
    // A vote counts only for the block it names: one moved to another block's row counts for neither.
    const verify = (b: Block, v: Vote) => verifyVoteSignature(b, v) && v.vote.voting_for_block === b.id;
    try {
      entry.outcome = electionStatus(shell, cast, verify);
    } catch (error) {
      if (!(error instanceof MultipleVotesError)) throw error;
      problem(`its votes cannot be counted: ${error.message}`);
      return;
    }
    if (row.status === 'undecided' || row.status === entry.outcome) return;
    const yes = cast.filter((vote) => verify(shell, vote) && vote.vote.is_block_valid === true).length;
    problem(
      `stored ${row.status}, but its ${cast.length} stored votes (${yes} verified yes, ` +
        `${block.block.voters.length} voters) decide ${entry.outcome}`,
    );
  }

  // --- index rows ---------------------------------------------------------------------------------------

  private async checkIndexRows(checked: readonly Checked[], ids: readonly string[]): Promise<void> {
    const { transactions, outputs, spends } = await this.storage.indexRecords(ids);
    const transactionsByBlock = groupBy(transactions, (row) => row.block_id);
    const outputsByBlock = groupBy(
      outputs.map((row) => ({ block: row.block_id, ...outputRow(row.tx_id, row.cid, row.owner, row.live) })),
      (row) => row.block,
    );
    const spendsByBlock = groupBy(
      spends.map((row) => ({
        block: row.block_id,
        ...spendRow(row.input_txid, row.input_cid, row.spender, row.live),
      })),
      (row) => row.block,
    );
    for (const entry of checked) {
      // A block whose rows cannot be derived has its transactions reported instead.
      if (entry.rows === undefined) continue;
      const id = entry.row.id;
      this.compareTransactionRecords(entry, transactionsByBlock.get(id) ?? []);
      const expected = entry.rows;
      const live = entry.row.status !== 'invalid';
      const o = expected.outputs;
      this.compareIndexRows(
        entry,
        'outputs',
        o.txIds.map((txid, i) => outputRow(txid, o.cids[i] ?? -1, o.owners[i] ?? '', live)),
        outputsByBlock.get(id) ?? [],
      );
      const s = expected.spends;
      this.compareIndexRows(
        entry,
        'spends',
        s.inputTxids.map((txid, i) => spendRow(txid, s.inputCids[i] ?? -1, s.spenders[i] ?? '', live)),
        spendsByBlock.get(id) ?? [],
      );
    }
  }

  private compareTransactionRecords(entry: Checked, stored: readonly TransactionRecord[]): void {
    const expected = entry.rows?.transactions;
    if (expected === undefined) return;
    const { id, status } = entry.row;
    const problem = (txid: string, message: string) =>
      this.report({ kind: 'transaction', blockId: id, txid, message });
    const byId = new Map(stored.map((row) => [row.tx_id, row]));
    const held = new Set<string>();
    expected.txIds.forEach((txid, i) => {
      // A transaction twice in one block is the block's own problem (its hash or signature covers it).
      if (held.has(txid)) return;
      held.add(txid);
      const row = byId.get(txid);
      if (row === undefined) {
        problem(txid, 'its transactions row is missing');
        return;
      }
      const fields = [
        row.position === expected.positions[i] ? undefined : 'position',
        row.uuid === expected.uuids[i] ? undefined : 'uuid',
        row.doc === expected.docs[i] ? undefined : 'doc',
      ].filter((field) => field !== undefined);
      if (fields.length > 0) {
        problem(txid, `its transactions row differs from the block's copy in ${fields.join(', ')}`);
      }
      if (row.live !== expected.live[i]) problem(txid, liveMessage('transactions row', row.live, status));
    });
    for (const row of stored) {
      if (!held.has(row.tx_id)) {
        problem(row.tx_id, 'a transactions row names this block, which does not hold the transaction');
      }
    }
  }

  /** Outputs and spends rows have no key of their own: compare them as multisets. */
  private compareIndexRows(
    entry: Checked,
    table: 'outputs' | 'spends',
    expected: readonly IndexRow[],
    stored: readonly IndexRow[],
  ): void {
    const { id, status } = entry.row;
    const problem = (txid: string, message: string) =>
      this.report({ kind: 'transaction', blockId: id, txid, message });
    const want = groupBy(expected, (row) => row.key);
    const have = groupBy(stored, (row) => row.key);
    for (const [key, rows] of want) {
      const first = rows[0] as IndexRow;
      const found = have.get(key) ?? [];
      if (found.length < rows.length) problem(first.txid, `its ${table} row for ${first.label} is missing`);
      if (found.length > rows.length) {
        problem(
          first.txid,
          `${table} holds ${found.length} rows for ${first.label}; the block gives ${rows.length}`,
        );
      }
      const wrong = found.find((row) => row.live !== first.live);
      if (wrong !== undefined)
        problem(first.txid, liveMessage(`${table} row for ${first.label}`, wrong.live, status));
    }
    for (const [key, rows] of have) {
      const first = rows[0] as IndexRow;
      if (!want.has(key)) {
        problem(first.txid, `a ${table} row for ${first.label} names this block, which does not give it`);
      }
    }
  }

  // --- transactions -------------------------------------------------------------------------------------

  private async checkTransactions(checked: readonly Checked[]): Promise<{ verified: Promise<void> }> {
    const candidates: { entry: Checked; tx: Transaction }[] = [];
    for (const entry of checked) {
      const block = entry.block;
      if (block === undefined) continue;
      this.done.transactions += block.block.transactions.length;
      // A block decided invalid may well hold invalid transactions: that is why it was voted down. Its
      // transactions are checked only when the block was changed after signing, to name which one was.
      const votedDown = entry.row.status === 'invalid' || entry.outcome === 'invalid';
      if (votedDown && entry.intact) continue;
      for (const value of block.block.transactions) {
        const tx = this.checkTransactionBody(entry.row.id, value);
        if (tx !== undefined) candidates.push({ entry, tx });
      }
    }
    const sources = await this.validSources(
      candidates.flatMap(({ tx }) =>
        tx.transaction.fulfillments.flatMap((f) => (f.input ? [f.input.txid] : [])),
      ),
    );
    const jobs: VerifyJob[] = [];
    const owners: { blockId: string; txid: string }[] = [];
    for (const { entry, tx } of candidates) {
      const block = entry.block as Block;
      let inputConditions: ConditionBody[];
      try {
        inputConditions = await resolveInputConditions(
          tx,
          auditContext(block, entry.genesis, sources, this.options),
        );
      } catch (error) {
        // Validation errors, and anything else a tampered document makes the checks throw.
        this.report({ kind: 'transaction', blockId: entry.row.id, txid: tx.id, message: messageOf(error) });
        continue;
      }
      // The block's time: a timeout condition is judged as when the block was made, not as of today.
      jobs.push({ tx, inputConditions, now: block.block.timestamp });
      owners.push({ blockId: entry.row.id, txid: tx.id });
    }
    const verified = this.verifyFulfillments(jobs).then((failures) =>
      failures.forEach((failure, i) => {
        const owner = owners[i];
        if (failure !== null && owner !== undefined) {
          this.report({ kind: 'transaction', ...owner, message: failure.message });
        }
      }),
    );
    return { verified };
  }

  /** Shape and id; returns the transaction when its fulfillments are worth checking. */
  private checkTransactionBody(blockId: string, value: unknown): Transaction | undefined {
    const named = isRecord(value) && typeof value.id === 'string' ? { txid: value.id } : {};
    const problem = (message: string) => this.report({ kind: 'transaction', blockId, ...named, message });
    let tx: Transaction;
    let computed: string;
    try {
      tx = checkTransactionShape(value);
      computed = computeTransactionId(tx);
    } catch (error) {
      problem(`not a well-formed transaction: ${messageOf(error)}`);
      return undefined;
    }
    if (computed !== tx.id) {
      problem(
        `the id is not the hash of the transaction body (${computed}): it was changed after it was made`,
      );
      return undefined;
    }
    return tx;
  }

  /**
   * An intact copy, from a valid block, of each transaction spent: a transaction's inputs must have been
   * valid when it was validated, and a valid block stays valid. A copy whose id is not its hash (an edited
   * index row) is left out; the index check reports it.
   */
  private async validSources(txids: readonly string[]): Promise<Map<string, Transaction>> {
    const sources = new Map<string, Transaction>();
    if (txids.length === 0) return sources;
    const rows = await this.storage.validTransactionTexts([...new Set(txids)]);
    for (const row of rows) {
      if (sources.has(row.tx_id)) continue;
      const tx = safely(() => checkTransactionShape(JSON.parse(row.doc)), undefined);
      if (
        tx !== undefined &&
        tx.id === row.tx_id &&
        safely(() => computeTransactionId(tx) === tx.id, false)
      ) {
        sources.set(row.tx_id, tx);
      }
    }
    return sources;
  }

  private async verifyFulfillments(jobs: readonly VerifyJob[]): Promise<(Error | null)[]> {
    if (this.options.pool !== undefined) return this.options.pool.verify(jobs);
    return jobs.map((job) => {
      try {
        checkFulfillments(job.tx, job.inputConditions, job.now);
        return null;
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    });
  }

  // --- across blocks ------------------------------------------------------------------------------------

  /** Votes and index rows naming a block that is not stored (the block walk never reaches them). */
  private async checkOrphans(): Promise<void> {
    const votes = await this.storage.orphanedVotes();
    for (const vote of votes) {
      this.done.votes++;
      this.report({
        kind: 'vote',
        blockId: vote.block_id,
        voter: vote.voter,
        message: 'the block it is on is not stored',
      });
    }
    const rows = await this.storage.orphanedIndexRows();
    for (const row of rows) {
      this.report({
        kind: 'transaction',
        blockId: row.block_id,
        ...(row.n === 1 ? { txid: row.txid } : {}),
        message: `${row.n} ${row.tab} row${row.n === 1 ? '' : 's'} name this block, which is not stored`,
      });
    }
  }

  /**
   * The no-double-spend invariant over valid blocks, in SQL over the index rows (a set of every valid
   * transaction would not fit in memory at 1M): the index rows were compared with the blocks above, so
   * any row that does not stand for its block has been reported already.
   */
  private async checkValidDuplicates(): Promise<void> {
    const included = await this.storage.transactionsInSeveralValidBlocks();
    for (const row of included) {
      const blocks = row.blocks.split(' ');
      this.report({
        kind: 'chain',
        blockId: blocks.at(-1) ?? '',
        txid: row.tx_id,
        message: `the transaction is in ${row.n} valid blocks: ${blocks.join(', ')}`,
      });
    }
    const spent = await this.storage.outputsSpentInSeveralValidBlocks();
    for (const row of spent) {
      this.report({
        kind: 'chain',
        blockId: row.last_block,
        txid: row.last_spender,
        message: `output ${row.input_txid}:${row.input_cid} is spent by more than one transaction of valid blocks: ${row.spenders}`,
      });
    }
  }
}

/**
 * What validation asks of the chain, answered for the audit: the spent transactions in valid blocks
 * (loaded per batch); spenders are not asked here, double spends are checked across all valid blocks at
 * the end.
 */
function auditContext(
  block: Block,
  genesis: boolean,
  sources: ReadonlyMap<string, Transaction>,
  options: AuditOptions,
): ValidationContext {
  return {
    federation: options.federation ?? block.block.voters,
    now: () => block.block.timestamp,
    getValidTransaction: (txid) => sources.get(txid),
    getSpender: () => undefined,
    isInChain: () => false,
    allowGenesis: genesis,
  };
}

function outputRow(txid: string, cid: number, owner: string, live: boolean): IndexRow {
  return { key: `${txid}:${cid} ${owner}`, txid, label: `output ${txid}:${cid} owned by ${owner}`, live };
}

function spendRow(inputTxid: string, inputCid: number, spender: string, live: boolean): IndexRow {
  return {
    key: `${inputTxid}:${inputCid} ${spender}`,
    txid: spender,
    label: `input ${inputTxid}:${inputCid}`,
    live,
  };
}

function liveMessage(what: string, live: boolean, status: BlockStatus): string {
  return `its ${what} is marked ${live ? 'live' : 'not live'}, but the block is stored ${status}`;
}

/** Whether the stored text is exactly the canonical form of the document it holds. */
function isCanonical(text: string, block: Block, rows: DerivedRows | undefined): boolean {
  // The transactions were serialized for the index rows already: reuse their texts.
  return safely(
    () => (rows === undefined ? serialize(block) : blockText(block, rows.transactions.docs)) === text,
    false,
  );
}

function differingBlockColumns(row: BlockRecord, block: Block): string[] {
  return [
    row.id === block.id ? undefined : `id (the document's id is ${block.id})`,
    row.node_pubkey === block.block.node_pubkey ? undefined : 'node_pubkey',
    row.block_timestamp === block.block.timestamp ? undefined : 'block_timestamp',
    Number(row.tx_count) === block.block.transactions.length ? undefined : 'tx_count',
    // The election counts the votes against this column, not the document.
    safely(() => serialize(block.block.voters) === row.voters, false) ? undefined : 'voters',
  ].filter((column) => column !== undefined);
}

function disagreement(columns: readonly string[]): string {
  return `the row's ${columns.join(', ')} ${columns.length === 1 ? 'disagrees' : 'disagree'} with its document`;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}

/** The value, or `fallback` when computing it throws: tampered documents must not stop the audit. */
function safely<T>(compute: () => T, fallback: T): T {
  try {
    return compute();
  } catch {
    return fallback;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function wholeNumber(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer ≥ ${min}`);
  return value;
}
