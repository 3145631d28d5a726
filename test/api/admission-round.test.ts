import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Admission } from '../../src/node/admission.ts';
import { Bigchain } from '../../src/node/bigchain.ts';
import { VerifyPool } from '../../src/node/verify-pool.ts';
import type { JsonObject } from '../../src/protocol/json.ts';
import { createAndSignTx } from '../../src/protocol/transaction.ts';
import ExplodingRules from '../fixtures/exploding-plugin.ts';
import SealedPayloadRules from '../fixtures/sealed-payload-plugin.ts';
import { generateKeyPair } from '../support/chain.ts';
import { startBackend, type StorageBackend } from '../support/storage-backends.ts';

let backend: StorageBackend;
let pool: VerifyPool;

before(async () => {
  backend = await startBackend();
  pool = new VerifyPool(1);
  await pool.ready();
});
after(async () => {
  await pool.close();
  await backend.close();
});

test('a submission that fails other than as invalid fails alone, not the whole admission round', async () => {
  const node = generateKeyPair();
  // The consensus plugin throws a TypeError on a payload with `explode: true`: a node bug, not a verdict.
  const bigchain = new Bigchain({
    storage: await backend.fresh(),
    keyPair: node,
    keyring: [],
    consensus: new ExplodingRules(),
  });
  await bigchain.createGenesisBlock();
  const admission = new Admission(bigchain, pool);
  const alice = generateKeyPair();
  const create = (payload: JsonObject) =>
    createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', { payload });

  // Submitted in the same turn: one round.
  const outcomes = await Promise.allSettled(
    ([{ n: 1 }, { explode: true }, { n: 2 }, { n: 3 }] as JsonObject[]).map((payload) =>
      admission.submit(create(payload)),
    ),
  );
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  const failed = outcomes[1] as PromiseRejectedResult;
  assert.ok(failed.reason instanceof TypeError);
  assert.equal(failed.reason.message, 'the plugin cannot read this payload');
  for (const outcome of outcomes.filter((o) => o.status === 'fulfilled'))
    assert.equal((outcome as PromiseFulfilledResult<{ inserted: boolean }>).value.inserted, true);
  assert.equal((await bigchain.storage.counts()).backlog, 3, 'the three others are in the backlog');
});

test("a plugin's fulfillments stage decides what HTTP admission takes", async () => {
  const node = generateKeyPair();
  const bigchain = new Bigchain({
    storage: await backend.fresh(),
    keyPair: node,
    keyring: [],
    consensus: new SealedPayloadRules(),
  });
  await bigchain.createGenesisBlock();
  const admission = new Admission(bigchain, pool);
  const alice = generateKeyPair();
  const create = (payload: JsonObject) =>
    createAndSignTx(alice.privateKey, alice.publicKey, alice.publicKey, null, 'CREATE', { payload });
  const outcomes = await Promise.allSettled([
    admission.submit(create({ n: 1 })),
    admission.submit(create({ sealed: true })),
  ]);
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status),
    ['fulfilled', 'rejected'],
  );
  assert.match(((outcomes[1] as PromiseRejectedResult).reason as Error).message, /refuses sealed payloads/);
  assert.equal((await bigchain.storage.counts()).backlog, 1);
});
