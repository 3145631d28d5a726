import { BIGCHAINDB_TYPE_IDS, Condition, CryptoConditionError, Fulfillment } from './cc/index.ts';
import { base58Decode } from './base58.ts';
import { isBase58Key } from './crypto.ts';
import { SerializationError } from './errors.ts';
import { MAX_PAYLOAD_DEPTH, transactionSchemaError } from './schema.ts';
import {
  getHashData,
  OPERATIONS,
  ownersConditionBody,
  serializeFulfillmentMessage,
  type ConditionBody,
  type Transaction,
  type TransactionInput,
} from './transaction.ts';
import {
  DoubleSpend,
  InputError,
  InvalidHash,
  InvalidSignature,
  OperationError,
  ReplayError,
  SchemaError,
  TransactionDoesNotExist,
  ValidationError,
} from './validation-errors.ts';

type MaybePromise<T> = T | Promise<T>;

/**
 * What validation needs to know about the chain (PROTOCOL R6). Storage implements it; tests use an in-memory
 * one. Lookups may be synchronous or asynchronous.
 */
export interface ValidationContext {
  /** public keys of every federation node (this node's and its keyring's) */
  readonly federation: readonly string[];
  /** current time as integer-second text, for timeout conditions */
  now(): string;
  /** the transaction if it is in a block decided VALID */
  getValidTransaction(txid: string): MaybePromise<Transaction | null | undefined>;
  /** id of a transaction in a valid or undecided block, or in the block under construction, spending `input` */
  getSpender(input: TransactionInput): MaybePromise<string | null | undefined>;
  /** whether the transaction is already in a valid or undecided block */
  isInChain(txid: string): MaybePromise<boolean>;
  /** GENESIS is accepted only while building or checking the genesis block */
  readonly allowGenesis?: boolean;
  /**
   * Whether this very value already passed, in this process, the checks a transaction passes alone
   * (shape, id, signatures): the node's own CREATEs, and backlog rows its admission checked. Then only the
   * checks against the chain are made.
   */
  isCheckedAlone?(value: unknown): boolean;
  /**
   * Where the fulfillments stage checks signatures: the node passes its worker pool (batched, off the main
   * thread); without it they are checked here, in process.
   */
  readonly verifyFulfillments?: VerifyFulfillments;
}

/** One transaction's fulfillments stage: its input conditions, resolved by the prepare stage, and the time. */
export interface FulfillmentsJob {
  tx: Transaction;
  inputConditions: ConditionBody[];
  /** integer-second time for timeout conditions */
  now: string;
}

/** The base signature check of a batch: null for each job whose fulfillments are all valid, else why not. */
export type VerifyFulfillments = (jobs: readonly FulfillmentsJob[]) => Promise<(ValidationError | null)[]>;

export type ValidationResult =
  { valid: true; transaction: Transaction } | { valid: false; error: ValidationError };

/** Schema, known operation and the structural rules; returns the value typed as a transaction. */
export function checkTransactionShape(value: unknown): Transaction {
  const reason = transactionSchemaError(value);
  if (reason) throw new SchemaError(reason);
  const tx = value as Transaction;
  const body = tx.transaction;
  body.fulfillments.forEach((f, i) => {
    if (f.fid !== i)
      throw new SchemaError(`fulfillment ${i} has fid ${f.fid}; fid must equal its index`, { fid: i });
    checkPublicKeys(f.owners_before, `transaction.fulfillments.${i}.owners_before`);
  });
  body.conditions.forEach((c, i) => {
    if (c.cid !== i)
      throw new SchemaError(`condition ${i} has cid ${c.cid}; cid must equal its index`, { cid: i });
    checkPublicKeys(c.owners_after ?? [], `transaction.conditions.${i}.owners_after`);
    checkConditionBody(c.condition, i);
  });
  if (body.conditions.length < body.fulfillments.length) {
    throw new SchemaError(
      `fulfillment ${body.conditions.length} has no condition at the same index to sign (each fulfillment signs the condition with its index)`,
      { fid: body.conditions.length },
    );
  }
  if (!(OPERATIONS as readonly string[]).includes(body.operation)) {
    throw new OperationError(
      `unknown operation ${JSON.stringify(body.operation)}; expected one of ${OPERATIONS.join(', ')}`,
    );
  }
  if (nestedDeeperThan(body.data.payload, MAX_PAYLOAD_DEPTH)) {
    throw new SchemaError(`transaction.data.payload is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`, {
      field: 'transaction.data.payload',
    });
  }
  return tx;
}

/** Whether arrays and objects nest more than `limit` levels in `value`; iterative, so any depth is safe. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * The schema checks only the alphabet and the length of the text; a key that decodes to other than 32 bytes
 * would fail later, where a condition is built from it, as a parse error rather than as this request's fault.
 */
function checkPublicKeys(keys: readonly string[], path: string): void {
  keys.forEach((key, i) => {
    if (!isBase58Key(key))
      throw new SchemaError(
        `${path}.${i} is not an Ed25519 public key: it decodes to ${base58Decode(key).length} bytes`,
        { field: `${path}.${i}` },
      );
  });
}

function checkConditionBody(condition: ConditionBody, cid: number): void {
  let uri: string;
  try {
    uri = Condition.fromUri(condition.uri).serializeUri();
    if (condition.details !== undefined) {
      const described = Fulfillment.fromDict(condition.details).conditionUri;
      if (described !== uri) {
        throw new SchemaError(`condition ${cid}: details describe ${described}, not its uri ${uri}`, { cid });
      }
    }
  } catch (error) {
    if (error instanceof CryptoConditionError) {
      throw new SchemaError(`condition ${cid}: ${error.message}`, { cid });
    }
    throw error;
  }
  if (uri !== condition.uri) throw new SchemaError(`condition ${cid}: uri is not in canonical form`, { cid });
}

/**
 * The input conditions every fulfillment must meet, after the operation rules of PROTOCOL R6: CREATE and
 * GENESIS have no inputs and are made by a federation node; TRANSFER inputs are distinct, exist in a valid
 * block, and are unspent.
 */
export async function resolveInputConditions(
  tx: Transaction,
  ctx: ValidationContext,
): Promise<ConditionBody[]> {
  const body = tx.transaction;
  if (body.operation === 'CREATE' || body.operation === 'GENESIS') {
    if (body.operation === 'GENESIS' && !ctx.allowGenesis) {
      throw new OperationError('GENESIS transactions are only allowed in the genesis block');
    }
    if (body.fulfillments.length === 0) {
      throw new InputError(
        `a ${body.operation} transaction needs one fulfillment, signed by a federation node`,
      );
    }
    return body.fulfillments.map((f) => {
      if (f.input !== null) throw new InputError('A CREATE operation has no inputs', { fid: f.fid });
      const creator = f.owners_before[0];
      if (creator === undefined || !ctx.federation.includes(creator)) {
        throw new OperationError(`Only federation nodes can use the operation \`${body.operation}\``, {
          fid: f.fid,
          owner: creator ?? null,
        });
      }
      return ownersConditionBody([creator])!;
    });
  }
  if (body.fulfillments.length === 0) throw new InputError('Transaction contains no fulfillments');
  const seen = new Map<string, number>();
  for (const f of body.fulfillments) {
    if (f.input === null) {
      throw new InputError(`fulfillment ${f.fid}: only \`CREATE\` transactions can have null inputs`, {
        fid: f.fid,
      });
    }
    const key = `${f.input.txid}:${f.input.cid}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new InputError(
        `input ${describeInput(f.input)} is used twice (fulfillments ${first} and ${f.fid})`,
        {
          fid: f.fid,
          input: f.input,
        },
      );
    }
    seen.set(key, f.fid);
  }
  const inputs = body.fulfillments.map((f) => f.input!);
  // The context answers synchronously or with a promise (MaybePromise): Promise.resolve makes each one a promise.
  const [sources, spenders] = await Promise.all([
    Promise.all(inputs.map((input) => Promise.resolve(ctx.getValidTransaction(input.txid)))),
    Promise.all(inputs.map((input) => Promise.resolve(ctx.getSpender(input)))),
  ]);
  return inputs.map((input, fid) => {
    const source = sources[fid];
    if (!source) {
      throw new TransactionDoesNotExist(`input \`${input.txid}\` does not exist in a valid block`, {
        fid,
        input,
      });
    }
    const output = source.transaction.conditions.find((c) => c.cid === input.cid);
    if (!output) {
      throw new TransactionDoesNotExist(`transaction \`${input.txid}\` has no condition ${input.cid}`, {
        fid,
        input,
      });
    }
    const spender = spenders[fid];
    if (spender && spender !== tx.id) {
      throw new DoubleSpend(`input ${describeInput(input)} was already spent by \`${spender}\``, {
        fid,
        input,
        spender,
      });
    }
    return output.condition;
  });
}

function describeInput(input: TransactionInput): string {
  return `\`{"txid":"${input.txid}","cid":${input.cid}}\``;
}

/** The id computed from the body; a body that has no canonical form (e.g. an unsafe integer) is malformed. */
export function computeTransactionId(tx: Transaction): string {
  try {
    return getHashData(tx);
  } catch (error) {
    if (error instanceof SerializationError)
      throw new SchemaError(`transaction ${error.message}`, error.details);
    throw error;
  }
}

/** The id must be the hash of the body with fulfillments nulled. */
export function checkTransactionHash(tx: Transaction, computed: string = computeTransactionId(tx)): void {
  if (computed !== tx.id) {
    throw new InvalidHash(`transaction id ${tx.id} does not match its hash ${computed}`, { computed });
  }
}

/**
 * Every fulfillment parses, uses only BigchainDB's condition types (0, 2, 4, 98, 99), derives exactly the condition it spends,
 * and validates over its message at `now`. Pure and synchronous, so it can run in a worker thread.
 */
export function checkFulfillments(
  tx: Transaction,
  inputConditions: readonly ConditionBody[],
  now: string,
): void {
  for (const entry of tx.transaction.fulfillments) {
    const fid = entry.fid;
    const expected = inputConditions[fid];
    if (!expected) throw new InvalidSignature(`fulfillment ${fid} has no input condition`, { fid });
    if (entry.fulfillment === null) throw new InvalidSignature(`fulfillment ${fid} is not signed`, { fid });
    let fulfillment: Fulfillment;
    try {
      fulfillment = Fulfillment.fromUri(entry.fulfillment, { allowedTypeIds: BIGCHAINDB_TYPE_IDS });
    } catch (error) {
      if (!(error instanceof CryptoConditionError)) throw error;
      throw new InvalidSignature(`fulfillment ${fid} cannot be parsed: ${error.message}`, { fid });
    }
    if (fulfillment.conditionUri !== expected.uri) {
      throw new InvalidSignature(
        `fulfillment ${fid} does not match the condition it spends: it fulfills ${fulfillment.conditionUri}, the input requires ${expected.uri}`,
        { fid },
      );
    }
    if (!fulfillment.validate(serializeFulfillmentMessage(tx, entry), now)) {
      throw new InvalidSignature(
        `fulfillment ${fid} does not validate (a wrong or missing signature, a wrong secret, or an expired timeout)`,
        { fid },
      );
    }
  }
}

/** A transaction already in a valid or undecided block cannot be included again. */
export async function checkNotReplayed(tx: Transaction, ctx: ValidationContext): Promise<void> {
  if (await ctx.isInChain(tx.id)) {
    throw new ReplayError(`transaction ${tx.id} is already in a valid or undecided block`);
  }
}

/**
 * Stage 1 of PROTOCOL R6, against the chain: shape, operation rules, inputs found and unspent, id is the
 * hash, not already in the chain. Returns the job for the fulfillments stage.
 */
export async function prepareTransaction(value: unknown, ctx: ValidationContext): Promise<FulfillmentsJob> {
  const checkedAlone = ctx.isCheckedAlone?.(value) === true;
  const tx = checkedAlone ? (value as Transaction) : checkTransactionShape(value);
  const computedId = checkedAlone ? tx.id : computeTransactionId(tx);
  const inputConditions = await resolveInputConditions(tx, ctx);
  checkTransactionHash(tx, computedId);
  await checkNotReplayed(tx, ctx);
  return { tx, inputConditions, now: ctx.now() };
}

/** Stage 2, the signatures, in process: what a verify-pool worker runs. */
export function fulfillmentsFailure(job: FulfillmentsJob): ValidationError | null {
  try {
    checkFulfillments(job.tx, job.inputConditions, job.now);
    return null;
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
}

/** Stage 2 without a worker pool. */
export const verifyFulfillmentsInProcess: VerifyFulfillments = (jobs) =>
  Promise.resolve(jobs.map(fulfillmentsFailure));

/**
 * Stage 3, against the rest of the batch: `ctx` counts the transactions accepted before this one in the
 * same batch (block) as in the chain, so a second spend of an output or the same transaction twice fails.
 */
export async function checkAgainstBatch(tx: Transaction, ctx: ValidationContext): Promise<void> {
  // What a CREATE or GENESIS must meet does not depend on the batch: prepareTransaction checked it.
  if (tx.transaction.operation === 'TRANSFER') await resolveInputConditions(tx, ctx);
  await checkNotReplayed(tx, ctx);
}

/** The stages a transaction passes, each a consensus plugin hook (ConsensusRules) that BaseConsensusRules fills. */
export interface ValidationStages {
  prepareTransaction(ctx: ValidationContext, value: unknown): Promise<FulfillmentsJob>;
  /** the verdicts for `jobs`: `verify` is the base signature check, wherever the node runs it */
  verifyFulfillments(
    jobs: readonly FulfillmentsJob[],
    verify: VerifyFulfillments,
  ): Promise<(ValidationError | null)[]>;
}

/** The base rules' stages (BaseConsensusRules), for callers without a consensus plugin. */
export const BASE_VALIDATION_STAGES: ValidationStages = {
  prepareTransaction: (ctx, value) => prepareTransaction(value, ctx),
  verifyFulfillments: (jobs, verify) => verify(jobs),
};

/** One transaction through the prepare and fulfillments stages of `stages`; throws the first failure. */
export async function validateWithStages(
  stages: ValidationStages,
  value: unknown,
  ctx: ValidationContext,
): Promise<Transaction> {
  const job = await stages.prepareTransaction(ctx, value);
  const [failure] = await stages.verifyFulfillments(
    [job],
    ctx.verifyFulfillments ?? verifyFulfillmentsInProcess,
  );
  if (failure) throw failure;
  return job.tx;
}

/**
 * Every rule of PROTOCOL R6 (the base rules); throws the first failure as its own error class. Returns the
 * transaction typed.
 */
export function validateTransaction(value: unknown, ctx: ValidationContext): Promise<Transaction> {
  return validateWithStages(BASE_VALIDATION_STAGES, value, ctx);
}

/** Like validateTransaction, but reports a validation failure as a result instead of throwing it. */
export async function isValidTransaction(value: unknown, ctx: ValidationContext): Promise<ValidationResult> {
  try {
    return { valid: true, transaction: await validateTransaction(value, ctx) };
  } catch (error) {
    if (error instanceof ValidationError) return { valid: false, error };
    throw error;
  }
}
