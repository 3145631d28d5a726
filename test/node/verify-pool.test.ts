import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { timestamp } from '../../src/protocol/crypto.ts';
import {
  createInputCondition,
  lookupInTransactions,
  type Transaction,
} from '../../src/protocol/transaction.ts';
import { checkFulfillments } from '../../src/protocol/validation.ts';
import { InvalidSignature } from '../../src/protocol/validation-errors.ts';
import { VerifyPool, VerifyPoolError, type VerifyJob } from '../../src/node/verify-pool.ts';
import { forged, generateKeyPair, TestChain } from '../support/chain.ts';

function job(tx: Transaction, known: Transaction[] = []): VerifyJob {
  const lookup = lookupInTransactions(known);
  const inputConditions = tx.transaction.fulfillments.map(
    (f) => (f.input ? lookup(f) : createInputCondition(f))!,
  );
  return { tx, inputConditions, now: timestamp() };
}

describe('verify pool (signature checks on worker threads)', () => {
  let pool: VerifyPool;
  const chain = new TestChain();
  before(() => {
    pool = new VerifyPool(2);
  });
  after(async () => {
    await pool.close();
  });

  test('answers each job in order: null when valid, the error checkFulfillments would throw otherwise', async () => {
    const alice = generateKeyPair();
    const assets = Array.from({ length: 9 }, () => chain.create(alice.publicKey));
    const transfer = chain.transfer(assets[0]!, alice, generateKeyPair().publicKey);
    const bad = forged(assets[1]!, assets[2]!);
    const jobs = [...assets.map((tx) => job(tx)), job(bad), job(transfer, assets)];
    const results = await pool.verify(jobs);
    assert.equal(results.length, jobs.length);
    assert.deepEqual(
      results.map((result) => result === null),
      [true, true, true, true, true, true, true, true, true, false, true],
    );
    const failure = results[9];
    assert.ok(failure instanceof InvalidSignature);
    const inThread = (() => {
      try {
        checkFulfillments(bad, jobs[9]!.inputConditions, jobs[9]!.now);
      } catch (error) {
        return error as Error;
      }
      return undefined;
    })();
    assert.equal(failure.message, inThread?.message);
    assert.deepEqual(failure.details, (inThread as InvalidSignature).details);
    assert.deepEqual(await pool.verify([]), []);
  });

  test('batches larger than the pool are split over every worker and come back whole', async () => {
    const owner = generateKeyPair().publicKey;
    const txs = Array.from({ length: 101 }, () => chain.create(owner));
    const results = await pool.verify(txs.map((tx) => job(tx)));
    assert.equal(results.length, 101);
    assert.ok(results.every((result) => result === null));
  });

  test('a worker that dies fails the batch it held, and is replaced', async () => {
    const owner = generateKeyPair().publicKey;
    const jobs = Array.from({ length: 400 }, () => job(chain.create(owner)));
    const crashing = new VerifyPool(2);
    try {
      await crashing.ready();
      // Reaching into the pool: nothing in its API kills a worker, which is the point.
      const { workers } = crashing as unknown as { workers: { worker: Worker }[] };
      const pending = crashing.verify(jobs);
      void workers[0]!.worker.terminate();
      await assert.rejects(pending, (error: Error) => {
        assert.ok(error instanceof VerifyPoolError);
        assert.match(error.message, /a signature-check worker failed: verify worker exited with code \d+/);
        return true;
      });
      const again = await crashing.verify(jobs);
      assert.ok(again.length === 400 && again.every((result) => result === null), 'the replacement works');
    } finally {
      await crashing.close();
    }
  });

  test('workers that cannot load: ready() says why, work is refused, and they are not respawned in a loop', async () => {
    const broken = new VerifyPool(2, { workerEntry: new URL('./no-such-worker.ts', import.meta.url).href });
    try {
      await assert.rejects(broken.ready(), (error: Error) => {
        assert.ok(error instanceof VerifyPoolError);
        assert.match(error.message, /^the signature-check workers cannot start: .*no-such-worker/);
        return true;
      });
      await assert.rejects(broken.verify([job(chain.create(generateKeyPair().publicKey))]), VerifyPoolError);
      // Replacements wait 100 ms, then 200, 400, …: in one second a handful of threads, not hundreds.
      const spawned = { count: 0 };
      const counting = broken as unknown as { spawn(): unknown };
      const spawn = counting.spawn.bind(broken);
      counting.spawn = () => {
        spawned.count++;
        return spawn();
      };
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.ok(spawned.count <= 10, `${spawned.count} workers spawned in a second`);
    } finally {
      await broken.close();
    }
  });

  test('a closed pool refuses work; a pool has a whole number of workers', async () => {
    const small = new VerifyPool(1);
    await small.close();
    await assert.rejects(small.verify([job(chain.create(generateKeyPair().publicKey))]), VerifyPoolError);
    for (const size of [-1, 1.5])
      assert.throws(() => new VerifyPool(size), /a whole number of workers \(0: none, checks inline\)/);
  });

  test('size 0: the checks run on the calling thread, with the answers of a threaded pool', async () => {
    const inline = new VerifyPool(0);
    await inline.ready();
    const alice = generateKeyPair();
    const assets = Array.from({ length: 4 }, () => chain.create(alice.publicKey));
    const jobs = [
      ...assets.map((tx) => job(tx)),
      job(forged(assets[1]!, assets[2]!)),
      job(chain.transfer(assets[0]!, alice, generateKeyPair().publicKey), assets),
    ];
    const [here, threaded] = [await inline.verify(jobs), await pool.verify(jobs)];
    assert.deepEqual(
      here.map((result) => result?.constructor.name ?? null),
      [null, null, null, null, 'InvalidSignature', null],
    );
    assert.deepEqual(
      here.map((result) => result && { name: result.name, message: result.message, details: result.details }),
      threaded.map(
        (result) => result && { name: result.name, message: result.message, details: result.details },
      ),
    );
    assert.equal(inline.checked, jobs.length);
    await inline.close();
  });
});
