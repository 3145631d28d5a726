/**
 * The seed's "Python Server API by Example", flow by flow, against an in-memory ledger: CREATE, TRANSFER,
 * double spend, multiple owners, multiple inputs and outputs, 2-of-3 threshold, hashlock, timeout and escrow.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Ed25519Fulfillment,
  InvertedThresholdSha256Fulfillment,
  PreimageSha256Fulfillment,
  ThresholdSha256Fulfillment,
  TimeoutFulfillment,
  Fulfillment,
} from '../../src/protocol/cc/index.ts';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { KeypairMismatchException } from '../../src/protocol/errors.ts';
import {
  createTransaction,
  serializeFulfillmentMessage,
  signTransaction,
  withCondition,
  withFulfillment,
  type Transaction,
} from '../../src/protocol/transaction.ts';
import { isValidTransaction, validateTransaction } from '../../src/protocol/validation.ts';
import { DoubleSpend, InvalidSignature } from '../../src/protocol/validation-errors.ts';
import { MemoryLedger } from '../support/ledger.ts';

const node = generateKeyPair();

function setup(): { ledger: MemoryLedger; sign: (tx: Transaction, keys: string | string[]) => Transaction } {
  const ledger = new MemoryLedger([node.publicKey]);
  return { ledger, sign: (tx, keys) => signTransaction(tx, keys, ledger.inputCondition) };
}

/** Validate, then put into a valid block: what the federation would do. */
async function commit(ledger: MemoryLedger, tx: Transaction): Promise<void> {
  assert.deepEqual(await validateTransaction(tx, ledger), tx);
  ledger.add('valid', tx);
}

async function createFor(
  ledger: MemoryLedger,
  sign: (tx: Transaction, keys: string) => Transaction,
  owners: string | string[],
  payload: Record<string, never> | { msg: string } | null = null,
): Promise<Transaction> {
  const tx = sign(createTransaction(node.publicKey, owners, null, 'CREATE', { payload }), node.privateKey);
  await commit(ledger, tx);
  return tx;
}

describe('Python Server API by Example', () => {
  test('create a digital asset, transfer it, and refuse a double spend', async () => {
    const { ledger, sign } = setup();
    const user1 = generateKeyPair();
    const user2 = generateKeyPair();
    const tx = await createFor(ledger, sign, user1.publicKey, { msg: 'Hello BigchainDB!' });
    assert.deepEqual(Object.keys(tx).sort(), ['id', 'transaction']);
    assert.deepEqual(Object.keys(tx.transaction).sort(), [
      'conditions',
      'data',
      'fulfillments',
      'operation',
      'timestamp',
      'version',
    ]);
    assert.equal(tx.transaction.data.uuid.length, 36);

    const [owned] = ledger.getOwnedIds(user1.publicKey);
    assert.deepEqual(owned, { txid: tx.id, cid: 0 });
    const transfer = sign(
      createTransaction(user1.publicKey, user2.publicKey, owned, 'TRANSFER'),
      user1.privateKey,
    );
    await commit(ledger, transfer);
    assert.deepEqual(ledger.getOwnedIds(user1.publicKey), []);
    assert.deepEqual(ledger.getOwnedIds(user2.publicKey), [{ txid: transfer.id, cid: 0 }]);

    const again = sign(
      createTransaction(user1.publicKey, user2.publicKey, owned, 'TRANSFER'),
      user1.privateKey,
    );
    await assert.rejects(validateTransaction(again, ledger), (error: unknown) => {
      assert.ok(error instanceof DoubleSpend);
      assert.equal(
        error.message,
        `input \`{"txid":"${tx.id}","cid":0}\` was already spent by \`${transfer.id}\``,
      );
      return true;
    });
  });

  test('multiple owners: an n-of-n CREATE, spent with every owner signing', async () => {
    const { ledger, sign } = setup();
    const [user1, user2, user3] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const multisig = await createFor(ledger, sign, [user1.publicKey, user2.publicKey]);
    assert.match(multisig.transaction.conditions[0]!.condition.uri, /^cc:2:29:[\w-]+:206$/);
    const [owned] = ledger.getOwnedIds(user2.publicKey);
    const transfer = createTransaction(
      [user1.publicKey, user2.publicKey],
      user3.publicKey,
      owned,
      'TRANSFER',
    );
    assert.throws(() => sign(transfer, [user1.privateKey]), KeypairMismatchException);
    await commit(ledger, sign(transfer, [user1.privateKey, user2.privateKey]));
    assert.equal(ledger.getOwnedIds(user3.publicKey).length, 1);
  });

  test('multiple inputs and outputs: three assets in one TRANSFER', async () => {
    const { ledger, sign } = setup();
    const [user1, user2] = [generateKeyPair(), generateKeyPair()];
    for (let i = 0; i < 3; i++) await createFor(ledger, sign, user1.publicKey);
    const inputs = ledger.getOwnedIds(user1.publicKey);
    assert.equal(inputs.length, 3);
    const mimo = sign(
      createTransaction(user1.publicKey, user2.publicKey, inputs, 'TRANSFER'),
      user1.privateKey,
    );
    assert.equal(mimo.transaction.fulfillments.length, 3);
    assert.equal(mimo.transaction.conditions.length, 3);
    await commit(ledger, mimo);
    assert.deepEqual(
      ledger.getOwnedIds(user2.publicKey),
      [0, 1, 2].map((cid) => ({ txid: mimo.id, cid })),
    );
  });

  test('a 2-of-3 threshold condition: any two owners can spend, one cannot', async () => {
    const { ledger, sign } = setup();
    const user2 = generateKeyPair();
    const owners = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const start = await createFor(ledger, sign, user2.publicKey);
    const condition = new ThresholdSha256Fulfillment(2);
    for (const o of owners) condition.addSubfulfillment(new Ed25519Fulfillment(o.publicKey));
    const base = createTransaction(
      user2.publicKey,
      owners.map((o) => o.publicKey),
      { txid: start.id, cid: 0 },
      'TRANSFER',
    );
    const thresholdTx = sign(withCondition(base, 0, condition), user2.privateKey);
    assert.match(thresholdTx.transaction.conditions[0]!.condition.uri, /^cc:2:29:[\w-]+:246$/);
    await commit(ledger, thresholdTx);

    const receiver = generateKeyPair();
    const spend = createTransaction(
      owners.map((o) => o.publicKey),
      receiver.publicKey,
      { txid: thresholdTx.id, cid: 0 },
      'TRANSFER',
    );
    for (const pair of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      const signed = sign(
        spend,
        pair.map((i) => owners[i]!.privateKey),
      );
      assert.equal((await isValidTransaction(signed, ledger)).valid, true, `owners ${pair.join('+')}`);
    }
    const alone = signOrError(() => sign(spend, owners[0]!.privateKey));
    assert.ok(alone instanceof Error, 'one key cannot satisfy 2-of-3');

    // The seed's manual way: sign two subfulfillments and add the third as a bare condition.
    const details = thresholdTx.transaction.conditions[0]!.condition.details!;
    const manual = Fulfillment.fromDict(details) as ThresholdSha256Fulfillment;
    const subs = owners.map((o) => manual.getSubconditionFromVk(o.publicKey)[0]!);
    const message = serializeFulfillmentMessage(spend, spend.transaction.fulfillments[0]!);
    manual.subconditions = [];
    subs[0]!.sign(message, owners[0]!.privateKey);
    manual.addSubfulfillment(subs[0]!);
    subs[1]!.sign(message, owners[1]!.privateKey);
    manual.addSubfulfillment(subs[1]!);
    manual.addSubcondition(subs[2]!.condition);
    assert.equal(manual.validate(message), true);
    await commit(ledger, withFulfillment(spend, 0, manual));
  });

  test('hashlock: a wrong secret is refused, the right one transfers the asset', async () => {
    const { ledger, sign } = setup();
    const secret = new TextEncoder().encode('much secret! wow!');
    const hashlock = new PreimageSha256Fulfillment(secret);
    const created = withCondition(
      createTransaction(node.publicKey, null, null, 'CREATE'),
      0,
      hashlock.condition,
      null,
    );
    assert.deepEqual(created.transaction.conditions[0], {
      owners_after: null,
      condition: { uri: 'cc:0:3:nsW2IiYgk9EUtsg4uBe3pBnOgRoAEX2IIsPgjqZz47U:17' },
      cid: 0,
    });
    const hashlockTx = sign(created, node.privateKey);
    await commit(ledger, hashlockTx);

    const user = generateKeyPair();
    const redeem = createTransaction(null, user.publicKey, { txid: hashlockTx.id, cid: 0 }, 'TRANSFER');
    const wrong = withFulfillment(redeem, 0, new PreimageSha256Fulfillment(new Uint8Array()));
    const result = await isValidTransaction(wrong, ledger);
    assert.equal(result.valid, false);
    assert.ok(!result.valid && result.error instanceof InvalidSignature);
    await commit(ledger, withFulfillment(redeem, 0, new PreimageSha256Fulfillment(secret)));
  });

  test('timeout: spendable by anyone until the expiry, never after', async () => {
    const { ledger, sign } = setup();
    const user = generateKeyPair();
    const expiry = '1700000012';
    const timeoutTx = sign(
      withCondition(
        createTransaction(node.publicKey, null, null, 'CREATE'),
        0,
        new TimeoutFulfillment(expiry),
        null,
      ),
      node.privateKey,
    );
    await commit(ledger, timeoutTx);
    const transfer = createTransaction(null, user.publicKey, { txid: timeoutTx.id, cid: 0 }, 'TRANSFER');
    const details = timeoutTx.transaction.conditions[0]!.condition.details!;
    const fulfilled = withFulfillment(transfer, 0, Fulfillment.fromDict(details));
    for (const [now, valid] of [
      ['1700000008', true],
      ['1700000012', true],
      ['1700000013', false],
      ['1700000020', false],
    ] as const) {
      ledger.clock = now;
      assert.equal((await isValidTransaction(fulfilled, ledger)).valid, valid, `at ${now}`);
    }
  });

  test('escrow: execute before the expiry, abort after it, never the other way round', async () => {
    const { ledger, sign } = setup();
    const [executor, aborter] = [generateKeyPair(), generateKeyPair()];
    const start = await createFor(ledger, sign, aborter.publicKey);
    const expiry = '1700000012';
    const timeout = new TimeoutFulfillment(expiry);
    const inverted = new InvertedThresholdSha256Fulfillment(1);
    inverted.addSubfulfillment(timeout);
    const execute = new ThresholdSha256Fulfillment(2);
    execute.addSubfulfillment(new Ed25519Fulfillment(executor.publicKey));
    execute.addSubfulfillment(timeout);
    const abort = new ThresholdSha256Fulfillment(2);
    abort.addSubfulfillment(new Ed25519Fulfillment(aborter.publicKey));
    abort.addSubfulfillment(inverted);
    const escrow = new ThresholdSha256Fulfillment(1);
    escrow.addSubfulfillment(execute);
    escrow.addSubfulfillment(abort);

    const base = createTransaction(
      aborter.publicKey,
      [aborter.publicKey, executor.publicKey],
      { txid: start.id, cid: 0 },
      'TRANSFER',
    );
    const escrowTx = sign(withCondition(base, 0, escrow), aborter.privateKey);
    await commit(ledger, escrowTx);

    const input = { txid: escrowTx.id, cid: 0 };
    const owners = [aborter.publicKey, executor.publicKey];
    const executeTx = sign(
      createTransaction(owners, executor.publicKey, input, 'TRANSFER'),
      executor.privateKey,
    );
    const abortTx = sign(createTransaction(owners, aborter.publicKey, input, 'TRANSFER'), aborter.privateKey);
    for (const [now, executeValid] of [
      ['1700000008', true],
      ['1700000012', true],
      ['1700000013', false],
      ['1700000030', false],
    ] as const) {
      ledger.clock = now;
      assert.equal((await isValidTransaction(executeTx, ledger)).valid, executeValid, `execute at ${now}`);
      assert.equal((await isValidTransaction(abortTx, ledger)).valid, !executeValid, `abort at ${now}`);
    }
  });
});

function signOrError(build: () => Transaction): Transaction | Error {
  try {
    return build();
  } catch (error) {
    return error as Error;
  }
}
