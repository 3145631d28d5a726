/**
 * PROTOCOL R6, rule by rule: each check has a failing case with its exact error class and message, and any
 * change to a hashed or signed field of a signed transaction makes it invalid.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PrefixSha256Fulfillment, Ed25519Fulfillment } from '../../src/protocol/cc/index.ts';
import { base58Encode } from '../../src/protocol/base58.ts';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { createBlock } from '../../src/protocol/block.ts';
import { jsonClone, serialize } from '../../src/protocol/json.ts';
import { MAX_PAYLOAD_DEPTH } from '../../src/protocol/schema.ts';
import {
  createInputCondition,
  createTransaction,
  getHashData,
  createAndSignTx,
  signTransaction,
  withFulfillment,
  type Transaction,
} from '../../src/protocol/transaction.ts';
import {
  checkTransactionShape,
  isValidTransaction,
  validateTransaction,
} from '../../src/protocol/validation.ts';
import {
  DoubleSpend,
  InputError,
  InvalidHash,
  InvalidSignature,
  OperationError,
  ReplayError,
  SchemaError,
  TransactionDoesNotExist,
} from '../../src/protocol/validation-errors.ts';
import { MemoryLedger } from '../support/ledger.ts';

const node = generateKeyPair();
const alice = generateKeyPair();
const bob = generateKeyPair();

function world(): { ledger: MemoryLedger; created: Transaction; transfer: Transaction } {
  const ledger = new MemoryLedger([node.publicKey]);
  const created = signTransaction(
    createTransaction(node.publicKey, alice.publicKey, null, 'CREATE', { payload: { n: 1 } }),
    node.privateKey,
  );
  ledger.add('valid', created);
  const transfer = signTransaction(
    createTransaction(alice.publicKey, bob.publicKey, { txid: created.id, cid: 0 }, 'TRANSFER', {
      payload: { note: 'to bob' },
    }),
    alice.privateKey,
    ledger.inputCondition,
  );
  return { ledger, created, transfer };
}

type Mutation = (tx: Transaction) => void;

/** Apply a mutation to a deep copy, optionally re-hashing so that the check after the hash is reached. */
function mutated(tx: Transaction, mutate: Mutation, rehash = false): Transaction {
  const copy = jsonClone(tx);
  mutate(copy);
  if (rehash) copy.id = getHashData(copy);
  return copy;
}

async function rejectsWith(
  tx: unknown,
  ledger: MemoryLedger,
  errorClass: new (...args: never[]) => Error,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(validateTransaction(tx, ledger), (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe('R6 checks, in order, each with its own error', () => {
  test('a well-formed CREATE and TRANSFER are valid', async () => {
    const { ledger, created, transfer } = world();
    ledger.add('valid');
    assert.deepEqual(await validateTransaction(transfer, ledger), transfer);
    const fresh = new MemoryLedger([node.publicKey]);
    assert.deepEqual(await validateTransaction(created, fresh), created);
  });

  test('schema: shape, types and unexpected properties', async () => {
    const { ledger, transfer } = world();
    await rejectsWith(null, ledger, SchemaError, 'transaction must be object');
    await rejectsWith(
      { id: transfer.id },
      ledger,
      SchemaError,
      "transaction must have required property 'transaction'",
    );
    await rejectsWith(
      mutated(transfer, (t) => ((t as unknown as { extra: number }).extra = 1)),
      ledger,
      SchemaError,
      'transaction has an unexpected property "extra"',
    );
    await rejectsWith(
      mutated(transfer, (t) => ((t.transaction as { version: number }).version = 2)),
      ledger,
      SchemaError,
      'transaction.version must be 1',
    );
    await rejectsWith(
      mutated(transfer, (t) => ((t.transaction.timestamp as unknown) = 1472731200)),
      ledger,
      SchemaError,
      'transaction.timestamp must be string',
    );
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.fulfillments[0]!.fid = 1)),
      ledger,
      SchemaError,
      'fulfillment 0 has fid 1; fid must equal its index',
    );
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.conditions = [])),
      ledger,
      SchemaError,
      /^fulfillment 0 has no condition at the same index to sign/,
    );
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.conditions[0]!.condition.uri = 'cc:4:20:AAAA:96')),
      ledger,
      SchemaError,
      /^condition 0: /,
    );
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.data.payload = { big: 2 ** 53 })),
      ledger,
      SchemaError,
      /2\^53/,
    );
  });

  test('inputs must be exactly {txid, cid} with an integer cid (0.6 double-spend bypass, behaviour §13.1)', async () => {
    const { ledger, transfer } = world();
    await rejectsWith(
      mutated(transfer, (t) => ((t.transaction.fulfillments[0]!.input as unknown as { x: number }).x = 1)),
      ledger,
      SchemaError,
      'transaction.fulfillments.0.input has an unexpected property "x"',
    );
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.fulfillments[0]!.input!.cid = 0.5)),
      ledger,
      SchemaError,
      'transaction.fulfillments.0.input.cid must be integer',
    );
  });

  test('operation must be CREATE, TRANSFER or GENESIS', async () => {
    const { ledger, transfer } = world();
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.operation = 'BURN')),
      ledger,
      OperationError,
      'unknown operation "BURN"; expected one of CREATE, TRANSFER, GENESIS',
    );
  });

  test('CREATE: no inputs, and only by a federation node', async () => {
    const { ledger, created } = world();
    const fresh = new MemoryLedger([node.publicKey]);
    await rejectsWith(
      mutated(created, (t) => (t.transaction.fulfillments[0]!.input = { txid: created.id, cid: 0 })),
      fresh,
      InputError,
      'A CREATE operation has no inputs',
    );
    const byUser = signTransaction(
      createTransaction(alice.publicKey, alice.publicKey, null, 'CREATE'),
      alice.privateKey,
    );
    await rejectsWith(byUser, ledger, OperationError, 'Only federation nodes can use the operation `CREATE`');
  });

  test('GENESIS only where the genesis block is built', async () => {
    const genesis = signTransaction(
      createTransaction(node.publicKey, node.publicKey, null, 'GENESIS', {
        payload: { message: 'Hello World from the BigchainDB' },
      }),
      node.privateKey,
    );
    const ledger = new MemoryLedger([node.publicKey]);
    await rejectsWith(
      genesis,
      ledger,
      OperationError,
      'GENESIS transactions are only allowed in the genesis block',
    );
    ledger.allowGenesis = true;
    assert.deepEqual(await validateTransaction(genesis, ledger), genesis);
  });

  test('TRANSFER: at least one fulfillment, no null inputs, no input used twice', async () => {
    const { ledger, transfer, created } = world();
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.fulfillments = []), true),
      ledger,
      InputError,
      'Transaction contains no fulfillments',
    );
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.fulfillments[0]!.input = null)),
      ledger,
      InputError,
      'fulfillment 0: only `CREATE` transactions can have null inputs',
    );
    const twice = signTransaction(
      createTransaction(
        alice.publicKey,
        bob.publicKey,
        [
          { txid: created.id, cid: 0 },
          { txid: created.id, cid: 0 },
        ],
        'TRANSFER',
      ),
      alice.privateKey,
      ledger.inputCondition,
    );
    await rejectsWith(
      twice,
      ledger,
      InputError,
      `input \`{"txid":"${created.id}","cid":0}\` is used twice (fulfillments 0 and 1)`,
    );
  });

  test('every input must exist in a VALID block', async () => {
    const { ledger, transfer, created } = world();
    const undecidedOnly = new MemoryLedger([node.publicKey]);
    undecidedOnly.add('undecided', created);
    await rejectsWith(
      transfer,
      undecidedOnly,
      TransactionDoesNotExist,
      `input \`${created.id}\` does not exist in a valid block`,
    );
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.fulfillments[0]!.input!.cid = 5), true),
      ledger,
      TransactionDoesNotExist,
      `transaction \`${created.id}\` has no condition 5`,
    );
  });

  test('no input may be spent already (valid or undecided block)', async () => {
    for (const status of ['valid', 'undecided'] as const) {
      const { ledger, transfer, created } = world();
      const rival = signTransaction(
        createTransaction(alice.publicKey, alice.publicKey, { txid: created.id, cid: 0 }, 'TRANSFER'),
        alice.privateKey,
        ledger.inputCondition,
      );
      ledger.add(status, rival);
      await rejectsWith(
        transfer,
        ledger,
        DoubleSpend,
        `input \`{"txid":"${created.id}","cid":0}\` was already spent by \`${rival.id}\``,
      );
    }
  });

  test('the id must be the hash of the body', async () => {
    const { ledger, transfer } = world();
    const wrongId = mutated(transfer, (t) => (t.id = 'f'.repeat(64)));
    await rejectsWith(
      wrongId,
      ledger,
      InvalidHash,
      `transaction id ${'f'.repeat(64)} does not match its hash ${transfer.id}`,
    );
  });

  test('fulfillments: parse, supported type, matching condition, valid signature', async () => {
    const { ledger, transfer } = world();
    await rejectsWith(
      withFulfillment(transfer, 0, 'cf:4:AAAA'),
      ledger,
      InvalidSignature,
      /^fulfillment 0 cannot be parsed: /,
    );
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.fulfillments[0]!.fulfillment = null)),
      ledger,
      InvalidSignature,
      'fulfillment 0 is not signed',
    );
    const prefix = new PrefixSha256Fulfillment('x', new Ed25519Fulfillment(alice.publicKey));
    await rejectsWith(
      withFulfillment(transfer, 0, prefix.condition.serializeUri().replace('cc', 'cf')),
      ledger,
      InvalidSignature,
      /^fulfillment 0 (cannot be parsed|uses condition type 1)/,
    );
    const withAnExtraKey = signTransaction(
      createTransaction(
        alice.publicKey,
        bob.publicKey,
        transfer.transaction.fulfillments[0]!.input,
        'TRANSFER',
      ),
      [bob.privateKey, alice.privateKey],
      ledger.inputCondition,
    );
    assert.equal((await isValidTransaction(withAnExtraKey, ledger)).valid, true);
    const bobSigned = new Ed25519Fulfillment(bob.publicKey);
    bobSigned.sign('anything', bob.privateKey);
    await rejectsWith(
      withFulfillment(transfer, 0, bobSigned),
      ledger,
      InvalidSignature,
      /^fulfillment 0 does not match the condition it spends: it fulfills cc:4:20:/,
    );
    const aliceWrongMessage = new Ed25519Fulfillment(alice.publicKey);
    aliceWrongMessage.sign('another message', alice.privateKey);
    await rejectsWith(
      withFulfillment(transfer, 0, aliceWrongMessage),
      ledger,
      InvalidSignature,
      'fulfillment 0 does not validate (a wrong or missing signature, a wrong secret, or an expired timeout)',
    );
  });

  test('a transaction already in a valid or undecided block cannot be included again', async () => {
    for (const status of ['valid', 'undecided'] as const) {
      const { ledger, transfer } = world();
      ledger.add(status, transfer);
      await rejectsWith(
        transfer,
        ledger,
        ReplayError,
        `transaction ${transfer.id} is already in a valid or undecided block`,
      );
    }
    const { created } = world();
    const ledger = new MemoryLedger([node.publicKey]);
    ledger.add('valid', created);
    await rejectsWith(created, ledger, ReplayError, /already in a valid or undecided block/);
  });
});

describe('malleability: every hashed or signed field matters', () => {
  const fields: [string, Mutation][] = [
    ['operation', (t) => (t.transaction.operation = 'CREATE')],
    ['timestamp', (t) => (t.transaction.timestamp = String(Number(t.transaction.timestamp) + 1))],
    ['data.uuid', (t) => (t.transaction.data.uuid = '00000000-0000-4000-8000-000000000000')],
    ['data.payload', (t) => (t.transaction.data.payload = { note: 'to eve' })],
    ['data.payload = null', (t) => (t.transaction.data.payload = null)],
    [
      'fulfillments[0].owners_before',
      (t) => (t.transaction.fulfillments[0]!.owners_before = [bob.publicKey]),
    ],
    ['fulfillments[0].input.cid', (t) => (t.transaction.fulfillments[0]!.input!.cid = 1)],
    ['fulfillments[0].input.txid', (t) => (t.transaction.fulfillments[0]!.input!.txid = 'a'.repeat(64))],
    ['conditions[0].owners_after', (t) => (t.transaction.conditions[0]!.owners_after = [alice.publicKey])],
    [
      'conditions[0].condition',
      (t) => {
        const ed = new Ed25519Fulfillment(alice.publicKey);
        t.transaction.conditions[0]!.condition = { details: ed.toDict(), uri: ed.conditionUri };
      },
    ],
    [
      'fulfillments[0].fulfillment (one bit)',
      (t) => {
        const uri = t.transaction.fulfillments[0]!.fulfillment!;
        const i = uri.length - 5;
        t.transaction.fulfillments[0]!.fulfillment =
          uri.slice(0, i) + (uri[i] === 'A' ? 'B' : 'A') + uri.slice(i + 1);
      },
    ],
  ];
  for (const [name, mutate] of fields) {
    test(`changing ${name} invalidates the transaction, also with a recomputed id`, async () => {
      const { ledger, transfer } = world();
      assert.equal((await isValidTransaction(transfer, ledger)).valid, true);
      for (const rehash of [false, true]) {
        const result = await isValidTransaction(mutated(transfer, mutate, rehash), ledger);
        assert.equal(result.valid, false, `${name}${rehash ? ' (re-hashed)' : ''}`);
      }
    });
  }

  test('isValidTransaction reports the error instead of throwing', async () => {
    const { ledger, transfer } = world();
    const result = await isValidTransaction(
      mutated(transfer, (t) => (t.id = 'f'.repeat(64))),
      ledger,
    );
    assert.equal(result.valid, false);
    assert.ok(!result.valid && result.error instanceof InvalidHash);
  });
});

describe('hostile input never escapes as anything but a ValidationError', () => {
  test('deep nesting and non-finite numbers in the payload are schema errors', async () => {
    const { ledger, transfer } = world();
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 10_000; i++) {
      const next = {};
      deep.a = next;
      deep = next;
    }
    await rejectsWith(
      {
        ...transfer,
        transaction: { ...transfer.transaction, data: { ...transfer.transaction.data, payload: root } },
      },
      ledger,
      SchemaError,
      /^transaction\.data\.payload is nested deeper than 200 levels$/,
    );
    await rejectsWith(
      {
        ...transfer,
        transaction: {
          ...transfer.transaction,
          data: { ...transfer.transaction.data, payload: { x: Infinity } },
        },
      },
      ledger,
      SchemaError,
      /Infinity is not a finite number/,
    );
  });

  test('a payload of MAX_PAYLOAD_DEPTH levels fits in a block; one level more is refused up front', () => {
    const nested = (levels: number) => {
      let value: Record<string, unknown> = { leaf: 1 };
      for (let i = 1; i < levels; i++) value = { a: value };
      return value;
    };
    const node = generateKeyPair();
    const deepest = createAndSignTx(node.privateKey, node.publicKey, node.publicKey, null, 'CREATE', {
      payload: nested(MAX_PAYLOAD_DEPTH) as never,
    });
    assert.doesNotThrow(() => checkTransactionShape(jsonClone(deepest)));
    // What a block and its stored text do with it: serialized six levels further down.
    assert.doesNotThrow(() => serialize(createBlock([deepest], node, [node.publicKey])));
    const tooDeep = structuredClone(deepest);
    tooDeep.transaction.data.payload = nested(MAX_PAYLOAD_DEPTH + 1) as never;
    assert.throws(() => checkTransactionShape(tooDeep), {
      name: 'SchemaError',
      message: `transaction.data.payload is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`,
    });
  });

  test('every owner key decodes to an Ed25519 public key of 32 bytes, else a SchemaError naming it', async () => {
    const { ledger, transfer } = world();
    // An unsigned client CREATE as POSTed: the node builds the input condition from owners_before[0].
    const short = base58Encode(new Uint8Array(31).fill(7));
    assert.throws(() => checkTransactionShape(createTransaction(short, alice.publicKey, null, 'CREATE')), {
      name: 'SchemaError',
      message:
        'transaction.fulfillments.0.owners_before.0 is not an Ed25519 public key: it decodes to 31 bytes',
    });
    await rejectsWith(
      mutated(transfer, (t) => (t.transaction.conditions[0]!.owners_after = [bob.publicKey, '1'.repeat(33)])),
      ledger,
      SchemaError,
      'transaction.conditions.0.owners_after.1 is not an Ed25519 public key: it decodes to 33 bytes',
    );
    // Any text the schema lets through as a key either is refused by the shape check or makes a condition.
    const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'.split('');
    const keyText = fc
      .array(fc.constantFrom(...alphabet), { minLength: 32, maxLength: 44 })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(keyText, (key) => {
        const tx = createTransaction(key, alice.publicKey, null, 'CREATE');
        try {
          checkTransactionShape(tx);
        } catch (error) {
          assert.ok(error instanceof SchemaError, String(error));
          return;
        }
        assert.ok(createInputCondition(tx.transaction.fulfillments[0]!));
      }),
      { numRuns: 300 },
    );
  });

  test('random values and random edits of a valid transaction', async () => {
    const { ledger, transfer } = world();
    const paths = (value: unknown, prefix: (string | number)[] = []): (string | number)[][] =>
      value !== null && typeof value === 'object'
        ? Object.entries(value).flatMap(([k, v]) => [
            [...prefix, Array.isArray(value) ? Number(k) : k],
            ...paths(v, [...prefix, Array.isArray(value) ? Number(k) : k]),
          ])
        : [];
    const allPaths = paths(transfer);
    await fc.assert(
      fc.asyncProperty(fc.nat(allPaths.length - 1), fc.jsonValue(), async (which, replacement) => {
        const copy = jsonClone(transfer) as unknown as Record<string | number, unknown>;
        const path = allPaths[which]!;
        let target = copy;
        for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
        target[path.at(-1)!] = replacement;
        const result = await isValidTransaction(copy, ledger);
        assert.equal(typeof result.valid, 'boolean');
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const result = await isValidTransaction(value, ledger);
        assert.equal(result.valid, false);
      }),
      { numRuns: 200 },
    );
  });
});
