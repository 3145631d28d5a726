/**
 * The audit's checks of what one stored row says against the document it holds: pure functions over rows
 * already read (audit.ts walks the chain and reads them). Each reports what it finds to `report`.
 */
import { isGenesisBlock, serializeWithTransactions, shellBlock, type Block } from '../protocol/block.ts';
import { electionStatus, type ElectionStatus } from '../protocol/election.ts';
import { serialize } from '../protocol/json.ts';
import { isVoteShaped, verifyStoredBlock, verifyStoredVote } from '../protocol/stored.ts';
import { MultipleVotesError, verifyVoteSignature, type Vote } from '../protocol/vote.ts';
import { DerivedRows } from '../storage/rows.ts';
import type {
  BlockRecord,
  BlockStatus,
  IndexRecords,
  TransactionRecord,
  VoteRecord,
} from '../storage/storage.ts';

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

export type Report = (problem: AuditProblem) => void;

/** One line per problem, for logs and the CLI. */
export function formatProblem(problem: AuditProblem): string {
  const names = [
    problem.blockId === '' ? undefined : `block ${problem.blockId}`,
    problem.voter === undefined ? undefined : `voter ${problem.voter}`,
    problem.txid === undefined ? undefined : `transaction ${problem.txid}`,
  ].filter((name) => name !== undefined);
  return `${problem.kind}: ${[...names, problem.message].join(': ')}`;
}

const EDITED = 'it was edited outside the node';

/** A stored block after its own checks. */
export interface CheckedBlock {
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

/**
 * A block row's own checks: its text is the canonical form of a block whose id is its hash, signed by
 * its creator, a member of `federation` (without it, one of the block's own voters); its columns agree
 * with the document; the genesis block starts with a GENESIS transaction.
 */
export function checkBlockRecord(
  row: BlockRecord,
  genesis: boolean,
  federation: readonly string[] | undefined,
  report: Report,
): CheckedBlock {
  const checked: CheckedBlock = {
    row,
    block: undefined,
    intact: false,
    genesis,
    rows: undefined,
    outcome: undefined,
  };
  const problem = (message: string) => report({ kind: 'block', blockId: row.id, message });
  let doc: unknown;
  try {
    doc = JSON.parse(row.doc);
  } catch {
    problem(`the stored text is not JSON: ${EDITED}`);
    return checked;
  }
  const verdict = verifyStoredBlock(doc, { federation: federation ?? 'voters' });
  const block = verdict.block;
  if (block === undefined) {
    problem(
      'the stored document is not a block: it needs exactly "id", "block" (timestamp, transactions, ' +
        'node_pubkey, voters) and "signature"',
    );
    return checked;
  }
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
  checked.intact = verdict.intact;
  for (const failure of verdict.problems) {
    if (failure.code === 'hash') {
      problem('the id is not the hash of the block body: the block was changed after it was signed');
    } else if (failure.code === 'signature') {
      problem(`the signature does not verify with its node_pubkey ${failure.nodePubkey}`);
    } else if (failure.code === 'creator') {
      const members = failure.among === 'voters' ? 'one of its voters' : 'in the federation';
      problem(`it was created by ${failure.nodePubkey}, which is not ${members}`);
    }
  }
  if (genesis && !safely(() => isGenesisBlock(block), false)) {
    report({
      kind: 'chain',
      blockId: row.id,
      message: 'the genesis block does not start with a GENESIS transaction',
    });
  }
  return checked;
}

/** A vote row's own checks against the block it is stored under; returns its document when it can be counted. */
export function checkVoteRecord(row: VoteRecord, block: Block | undefined, report: Report): Vote | undefined {
  const problem = (message: string) =>
    report({ kind: 'vote', blockId: row.block_id, voter: row.voter, message });
  let doc: unknown;
  try {
    doc = JSON.parse(row.doc);
  } catch {
    problem(`the stored text is not JSON: ${EDITED}`);
    return undefined;
  }
  if (!isVoteShaped(doc)) {
    problem('the stored document is not a vote: it needs "node_pubkey", "signature" and "vote"');
    return undefined;
  }
  const vote = doc;
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
  for (const failure of verifyStoredVote(vote, { id: row.block_id, voters: block.block.voters }).problems) {
    // A vote naming another block is reported above, with the voter the row names.
    if (failure.code === 'not-a-voter') problem(`${String(failure.voter)} is not one of the block's voters`);
    else if (failure.code === 'signature')
      problem('the signature does not verify: the vote was changed after it was signed');
  }
  return vote;
}

/**
 * A block stored valid or invalid must be what its stored votes decide. A block still stored undecided
 * is never a problem: its election may not have run yet, and the node holds an "invalid" caused by yes
 * votes split over previous blocks as undecided until no further vote can change it. Sets entry.outcome.
 */
export function checkStatus(entry: CheckedBlock, cast: readonly Vote[], report: Report): void {
  const { row, block } = entry;
  if (block === undefined) return;
  const problem = (message: string) => report({ kind: 'status', blockId: row.id, message });
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

/** An outputs or spends row reduced to what identifies it, for comparing multisets. */
interface IndexRow {
  key: string;
  /** the transaction the row belongs to: the output's, or the spender */
  txid: string;
  label: string;
  live: boolean;
}

/**
 * The transactions, outputs and spends rows naming each block against the rows its document gives.
 * `records` are the index rows naming the blocks of `checked`.
 */
export function checkIndexRecords(
  checked: readonly CheckedBlock[],
  records: IndexRecords,
  report: Report,
): void {
  const transactionsByBlock = groupBy(records.transactions, (row) => row.block_id);
  const outputsByBlock = groupBy(
    records.outputs.map((row) => ({
      block: row.block_id,
      ...outputRow(row.tx_id, row.cid, row.owner, row.live),
    })),
    (row) => row.block,
  );
  const spendsByBlock = groupBy(
    records.spends.map((row) => ({
      block: row.block_id,
      ...spendRow(row.input_txid, row.input_cid, row.spender, row.live),
    })),
    (row) => row.block,
  );
  for (const entry of checked) {
    // A block whose rows cannot be derived has its transactions reported instead.
    if (entry.rows === undefined) continue;
    const id = entry.row.id;
    compareTransactionRecords(entry, transactionsByBlock.get(id) ?? [], report);
    const expected = entry.rows;
    const live = entry.row.status !== 'invalid';
    const o = expected.outputs;
    compareIndexRows(
      entry,
      'outputs',
      o.txIds.map((txid, i) => outputRow(txid, o.cids[i] ?? -1, o.owners[i] ?? '', live)),
      outputsByBlock.get(id) ?? [],
      report,
    );
    const s = expected.spends;
    compareIndexRows(
      entry,
      'spends',
      s.inputTxids.map((txid, i) => spendRow(txid, s.inputCids[i] ?? -1, s.spenders[i] ?? '', live)),
      spendsByBlock.get(id) ?? [],
      report,
    );
  }
}

function compareTransactionRecords(
  entry: CheckedBlock,
  stored: readonly TransactionRecord[],
  report: Report,
): void {
  const expected = entry.rows?.transactions;
  if (expected === undefined) return;
  const { id, status } = entry.row;
  const problem = (txid: string, message: string) =>
    report({ kind: 'transaction', blockId: id, txid, message });
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
function compareIndexRows(
  entry: CheckedBlock,
  table: 'outputs' | 'spends',
  expected: readonly IndexRow[],
  stored: readonly IndexRow[],
  report: Report,
): void {
  const { id, status } = entry.row;
  const problem = (txid: string, message: string) =>
    report({ kind: 'transaction', blockId: id, txid, message });
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
    () =>
      (rows === undefined ? serialize(block) : serializeWithTransactions(block, rows.transactions.docs)) ===
      text,
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

export function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
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
export function safely<T>(compute: () => T, fallback: T): T {
  try {
    return compute();
  } catch {
    return fallback;
  }
}
