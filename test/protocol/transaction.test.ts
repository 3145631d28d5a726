import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Fulfillment, ThresholdSha256Fulfillment } from '../../src/protocol/cc/index.ts';
import { generateKeyPair, publicKeyFromPrivate } from '../../src/protocol/crypto.ts';
import { KeypairMismatchException } from '../../src/protocol/errors.ts';
import {
  conditionBody,
  createAndSignTx,
  createTransaction,
  getFulfillmentMessage,
  getHashData,
  lookupInTransactions,
  ownersCondition,
  ownersConditionBody,
  serializeFulfillmentMessage,
  serializeUnsignedBody,
  signTransaction,
  TransactionBuildError,
  withCondition,
  withFulfillment,
  type Transaction,
} from '../../src/protocol/transaction.ts';

// Keys of the 0.6 test suite's conftest (behaviour notes §1.5, §12.1).
const NODE_PRIVATE = '31Lb1ZGKTyHnmVK3LUMrAUrPNfd4sE2YyBt3UA4A25aA';
const NODE_PUBLIC = '4XYfCbabAWVUCbjTmRTFEu2sc3dFEdkse4r6X498B1s8';
const USER_PRIVATE = '8eJ8q9ZQpReWyQT5aFCiwtZ5wDZC4eDnCen88p3tQ6ie';
const USER_PUBLIC = 'JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE';

describe('behaviour notes §1.7: the 0.6 transaction bytes', () => {
  // The notes' ids are Keccak-256 (the 0.6 release); this project hashes with FIPS SHA3-256 (PROTOCOL R3),
  // so the hashed text and the signed message are compared, and the signature with the notes' id put back.
  const A_BODY =
    '{"conditions":[{"cid":0,"condition":{"details":{"bitmask":32,"public_key":"JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE","signature":null,"type":"fulfillment","type_id":4},"uri":"cc:4:20:__Y_Um6H73iwPe6ejWXEw930SQhqVGjtAHTXilPp0P0:96"},"owners_after":["JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE"]}],"data":{"payload":{"msg":"Hello BigchainDB!"},"uuid":"1ed2c8ad-7b3c-4a0e-9d51-2f0b8a6c4e11"},"fulfillments":[{"fid":0,"fulfillment":null,"input":null,"owners_before":["4XYfCbabAWVUCbjTmRTFEu2sc3dFEdkse4r6X498B1s8"]}],"operation":"CREATE","timestamp":"1472731200","version":1}';
  const A_KECCAK_ID = '37283d71feb44ad013259d71c007aaf3889c77cc4a07671bb3c609d8e83465c4';
  const A_MESSAGE =
    '{"condition":{"cid":0,"condition":{"details":{"bitmask":32,"public_key":"JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE","signature":null,"type":"fulfillment","type_id":4},"uri":"cc:4:20:__Y_Um6H73iwPe6ejWXEw930SQhqVGjtAHTXilPp0P0:96"},"owners_after":["JEAkEJqLbbgDRAtMm8YAjGp759Aq2qTn9eaEHUj2XePE"]},"data":{"payload":{"msg":"Hello BigchainDB!"},"uuid":"1ed2c8ad-7b3c-4a0e-9d51-2f0b8a6c4e11"},"fulfillment":{"fid":0,"fulfillment":null,"input":null,"owners_before":["4XYfCbabAWVUCbjTmRTFEu2sc3dFEdkse4r6X498B1s8"]},"id":"37283d71feb44ad013259d71c007aaf3889c77cc4a07671bb3c609d8e83465c4","operation":"CREATE","timestamp":"1472731200","version":1}';
  const A_FULFILLMENT =
    'cf:4:NGZIFL8M9mqsetkwkes0EZyGubeGefYlEkMMRTnpWhurcZgyQzWZNSR87nB5DtT0S2sbhwvY3ZllAodXkxQK50LBq0Cpj0LM-msQhyTduAFykyhUWPMS3PW4cz12qQAK';

  const a = createTransaction(NODE_PUBLIC, USER_PUBLIC, null, 'CREATE', {
    payload: { msg: 'Hello BigchainDB!' },
    timestamp: '1472731200',
    uuid: '1ed2c8ad-7b3c-4a0e-9d51-2f0b8a6c4e11',
  });

  test('the conftest keys are what the notes say', () => {
    assert.equal(publicKeyFromPrivate(NODE_PRIVATE), NODE_PUBLIC);
    assert.equal(publicKeyFromPrivate(USER_PRIVATE), USER_PUBLIC);
  });

  test('the hashed body is byte-identical, and the id is its FIPS SHA3-256', () => {
    assert.equal(serializeUnsignedBody(a.transaction), A_BODY);
    assert.equal(a.id, getHashData(a));
    assert.notEqual(a.id, A_KECCAK_ID);
  });

  test('the signed message and the Ed25519 fulfillment are byte-identical', () => {
    const withNotesId: Transaction = { ...a, id: A_KECCAK_ID };
    assert.equal(serializeFulfillmentMessage(withNotesId, a.transaction.fulfillments[0]!), A_MESSAGE);
    const signed = signTransaction(withNotesId, NODE_PRIVATE);
    assert.equal(signed.transaction.fulfillments[0]!.fulfillment, A_FULFILLMENT);
  });
});

describe('createTransaction', () => {
  test('the shape of create_tx(None, None, [], None): one input-less fulfillment, no conditions', () => {
    const tx = createTransaction(null, null, [], 'CREATE');
    assert.deepEqual(tx.transaction.fulfillments, [
      { owners_before: [], input: null, fulfillment: null, fid: 0 },
    ]);
    assert.deepEqual(tx.transaction.conditions, []);
    assert.equal(tx.transaction.version, 1);
    assert.match(tx.transaction.timestamp, /^\d{10}$/);
    assert.match(
      tx.transaction.data.uuid,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.equal(tx.id, getHashData(tx));
  });

  test('one condition per fulfillment, cid = fid; several owners give an n-of-n threshold in their order', () => {
    const owners = [generateKeyPair().publicKey, generateKeyPair().publicKey, generateKeyPair().publicKey];
    const inputs = [
      { txid: 'a'.repeat(64), cid: 0 },
      { txid: 'b'.repeat(64), cid: 2 },
    ];
    const tx = createTransaction(NODE_PUBLIC, owners, inputs, 'TRANSFER');
    assert.deepEqual(
      tx.transaction.fulfillments.map((f) => [f.fid, f.input]),
      [
        [0, inputs[0]],
        [1, inputs[1]],
      ],
    );
    assert.deepEqual(
      tx.transaction.conditions.map((c) => c.cid),
      [0, 1],
    );
    const details = tx.transaction.conditions[0]!.condition.details!;
    const threshold = Fulfillment.fromDict(details) as ThresholdSha256Fulfillment;
    assert.ok(threshold instanceof ThresholdSha256Fulfillment);
    assert.equal(threshold.threshold, 3);
    assert.deepEqual(
      (details as { subfulfillments: { public_key: string }[] }).subfulfillments.map((s) => s.public_key),
      owners,
    );
  });

  test('a payload must be an object or null', () => {
    assert.throws(
      () => createTransaction(NODE_PUBLIC, USER_PUBLIC, null, 'CREATE', { payload: 'text' as never }),
      TransactionBuildError,
    );
    assert.throws(
      () => createTransaction(NODE_PUBLIC, USER_PUBLIC, null, 'CREATE', { payload: [1] as never }),
      TransactionBuildError,
    );
  });

  test('the fulfillment message has exactly the 0.6 keys and the condition at the same index', () => {
    const tx = createTransaction(NODE_PUBLIC, USER_PUBLIC, null, 'CREATE');
    const message = getFulfillmentMessage(tx, tx.transaction.fulfillments[0]!);
    assert.deepEqual(Object.keys(message).sort(), [
      'condition',
      'data',
      'fulfillment',
      'id',
      'operation',
      'timestamp',
      'version',
    ]);
    assert.deepEqual(message.condition, tx.transaction.conditions[0]);
    assert.throws(
      () => getFulfillmentMessage(createTransaction(NODE_PUBLIC, null, null, 'CREATE'), { fid: 0 } as never),
      /no condition at index 0/,
    );
  });
});

describe('signTransaction', () => {
  test('signing never changes the id nor the input object', () => {
    const tx = createTransaction(NODE_PUBLIC, USER_PUBLIC, null, 'CREATE');
    const before = JSON.stringify(tx);
    const signed = signTransaction(tx, NODE_PRIVATE);
    assert.equal(JSON.stringify(tx), before);
    assert.equal(signed.id, tx.id);
    assert.match(signed.transaction.fulfillments[0]!.fulfillment!, /^cf:4:/);
  });

  test('a missing key is a KeypairMismatchException naming the key', () => {
    const tx = createTransaction(NODE_PUBLIC, USER_PUBLIC, null, 'CREATE');
    assert.throws(
      () => signTransaction(tx, USER_PRIVATE),
      (error: unknown) =>
        error instanceof KeypairMismatchException &&
        error.message === `fulfillment 0: public key ${NODE_PUBLIC} is not a pair to any of the private keys`,
    );
  });

  test('an unknown input condition and a details-less one are clear errors', () => {
    const transfer = createTransaction(
      USER_PUBLIC,
      NODE_PUBLIC,
      { txid: 'c'.repeat(64), cid: 0 },
      'TRANSFER',
    );
    assert.throws(
      () => signTransaction(transfer, USER_PRIVATE, lookupInTransactions([])),
      /fulfillment 0: the condition of its input is unknown/,
    );
    assert.throws(
      () => signTransaction(transfer, USER_PRIVATE),
      /fulfillment 0: the condition of its input is unknown/,
    );
    assert.throws(
      () =>
        signTransaction(transfer, USER_PRIVATE, () => ({
          uri: 'cc:0:3:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU:0',
        })),
      /has no details; build its fulfillment by hand/,
    );
    const handMade = withFulfillment(transfer, 0, 'cf:0:');
    const kept = signTransaction(handMade, USER_PRIVATE, () => ({
      uri: 'cc:0:3:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU:0',
    }));
    assert.equal(kept.transaction.fulfillments[0]!.fulfillment, 'cf:0:');
  });

  test('createAndSignTx signs a TRANSFER whose input the lookup knows', () => {
    const created = createAndSignTx(NODE_PRIVATE, NODE_PUBLIC, USER_PUBLIC, null, 'CREATE');
    const transfer = createAndSignTx(
      USER_PRIVATE,
      USER_PUBLIC,
      NODE_PUBLIC,
      { txid: created.id, cid: 0 },
      'TRANSFER',
      {
        lookupInputCondition: lookupInTransactions([created]),
      },
    );
    assert.match(transfer.transaction.fulfillments[0]!.fulfillment!, /^cf:4:/);
  });
});

describe('custom conditions', () => {
  test('withCondition replaces or appends, recomputes the id and clears stale fulfillments', () => {
    const signed = signTransaction(createTransaction(NODE_PUBLIC, USER_PUBLIC, null, 'CREATE'), NODE_PRIVATE);
    const threshold = new ThresholdSha256Fulfillment(1);
    threshold.addSubfulfillment(Fulfillment.fromDict(signed.transaction.conditions[0]!.condition.details!));
    const replaced = withCondition(signed, 0, threshold);
    assert.equal(replaced.transaction.conditions.length, 1);
    assert.equal(replaced.transaction.conditions[0]!.condition.uri, threshold.conditionUri);
    assert.deepEqual(replaced.transaction.conditions[0]!.owners_after, [USER_PUBLIC]);
    assert.equal(replaced.transaction.fulfillments[0]!.fulfillment, null);
    assert.equal(replaced.id, getHashData(replaced));
    assert.notEqual(replaced.id, signed.id);
    const appended = withCondition(replaced, 1, threshold.condition, null);
    assert.deepEqual(appended.transaction.conditions[1], {
      owners_after: null,
      condition: { uri: threshold.conditionUri },
      cid: 1,
    });
    assert.throws(() => withCondition(signed, 3, threshold), TransactionBuildError);
    assert.throws(() => withFulfillment(signed, 2, 'cf:0:'), TransactionBuildError);
  });
});

describe('ownersConditionBody', () => {
  test('is conditionBody(ownersCondition(owners)), a fresh copy each time', () => {
    const [a, b, c] = [generateKeyPair(), generateKeyPair(), generateKeyPair()].map((k) => k.publicKey);
    for (const owners of [[a!], [a!, b!, c!]]) {
      const first = ownersConditionBody(owners)!;
      assert.deepEqual(first, conditionBody(ownersCondition(owners)!));
      (first.details as { public_key?: string }).public_key = 'changed';
      first.uri = 'changed';
      assert.deepEqual(
        ownersConditionBody(owners),
        conditionBody(ownersCondition(owners)!),
        'not the copy changed',
      );
    }
    assert.equal(ownersConditionBody([]), undefined);
  });

  test('refuses a key that is not an Ed25519 public key, every time', () => {
    for (let i = 0; i < 2; i++) assert.throws(() => ownersConditionBody(['3yZe7d']), /public key/);
  });
});
