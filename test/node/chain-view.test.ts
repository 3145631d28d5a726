import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidTransaction } from '../../src/protocol/validation.ts';
import { DoubleSpend, ReplayError, TransactionDoesNotExist } from '../../src/protocol/validation-errors.ts';
import { ChainView } from '../../src/node/chain-view.ts';
import type { SqlDriver } from '../../src/storage/driver.ts';
import { Storage } from '../../src/storage/storage.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

/** The same database, counting the statements sent to it. */
function counting(storage: Storage): { storage: Storage; queries: () => number } {
  const driver = rawDriver(storage);
  let queries = 0;
  const wrapped: SqlDriver = {
    query: (text, params) => {
      queries++;
      return driver.query(text, params);
    },
    transaction: (work) => driver.transaction(work),
    exec: (script) => driver.exec(script),
    listen: (channel, onWake) => driver.listen(channel, onWake),
    close: async () => {},
  };
  return { storage: new Storage(wrapped, storage.name), queries: () => queries };
}

describeEachBackend('chain view for validating a batch', (backend) => {
  test('answers a batch from two queries: valid inputs, spends, replays, and the block under construction', async () => {
    const stored = await backend().fresh();
    const chain = new TestChain();
    await stored.init(chain.genesis);
    const alice = generateKeyPair();
    const validAssets = [chain.create(alice.publicKey), chain.create(alice.publicKey)];
    const validBlock = chain.block(validAssets);
    await stored.writeBlock(validBlock);
    await stored.markBlockValid(validBlock.id);
    const undecidedAsset = chain.create(alice.publicKey);
    await stored.writeBlock(chain.block([undecidedAsset]));
    const spent = chain.transfer(validAssets[1]!, alice, generateKeyPair().publicKey);
    await stored.writeBlock(chain.block([spent]));

    const good = chain.transfer(validAssets[0]!, alice, generateKeyPair().publicKey);
    const rival = chain.transfer(validAssets[0]!, alice, generateKeyPair().publicKey);
    const ofUndecided = chain.transfer(undecidedAsset, alice, generateKeyPair().publicKey);
    const doubleSpend = chain.transfer(validAssets[1]!, alice, generateKeyPair().publicKey);
    const batch = [good, rival, ofUndecided, doubleSpend, spent, validAssets[0]!];

    const { storage, queries } = counting(stored);
    const view = await ChainView.load(storage, batch, { federation: [chain.node.publicKey] });
    const outcomes = [];
    for (const tx of batch) {
      const result = await isValidTransaction(tx, view);
      if (result.valid) view.include(result.transaction);
      outcomes.push(result.valid ? 'valid' : result.error.constructor.name);
    }

    assert.deepEqual(outcomes, [
      'valid',
      DoubleSpend.name, // spends what `good`, earlier in the block under construction, spends
      TransactionDoesNotExist.name, // its input is in an undecided block only
      DoubleSpend.name,
      ReplayError.name, // already in a live block
      ReplayError.name,
    ]);
    assert.equal(queries(), 2, 'one query for the transactions, one for the spends');

    // Written after the view was loaded, so only the database knows it.
    const later = chain.create(alice.publicKey);
    const laterBlock = chain.block([later]);
    await stored.writeBlock(laterBlock);
    await stored.markBlockValid(laterBlock.id);
    const outside = chain.transfer(later, alice, generateKeyPair().publicKey);
    const outsideResult = await isValidTransaction(outside, view);
    assert.equal(outsideResult.valid, true, 'outside the batch: asks the database');
    assert.ok(queries() > 2);
  });

  test('validating a stored block: its own rows do not count as a replay or a spend, a rival block’s do', async () => {
    const storage = await backend().fresh();
    const chain = new TestChain();
    await storage.init(chain.genesis);
    const alice = generateKeyPair();
    const asset = chain.create(alice.publicKey);
    const assetBlock = chain.block([asset]);
    await storage.writeBlock(assetBlock);
    await storage.markBlockValid(assetBlock.id);
    const spend = chain.transfer(asset, alice, generateKeyPair().publicKey);
    const block = chain.block([spend, chain.create(alice.publicKey)]);
    await storage.writeBlock(block);
    const txs = block.block.transactions;
    const federation = [chain.node.publicKey];
    const own = await ChainView.load(storage, txs, { federation, exceptBlock: block.id });
    for (const tx of txs) assert.equal((await isValidTransaction(tx, own)).valid, true);
    const asIfNew = await ChainView.load(storage, txs, { federation });
    const result = await isValidTransaction(spend, asIfNew);
    assert.ok(!result.valid && result.error instanceof ReplayError);
  });
});
