import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BaseConsensusRules } from '../../src/protocol/consensus.ts';
import { ConsensusPluginError, loadConsensusPlugin } from '../../src/node/consensus-plugin.ts';
import { createBlock } from '../../src/protocol/block.ts';
import { createVote } from '../../src/protocol/vote.ts';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { createTransaction } from '../../src/protocol/transaction.ts';
import { OperationError } from '../../src/protocol/validation-errors.ts';
import { MemoryLedger } from '../support/ledger.ts';

const PLUGIN = 'test/fixtures/strict-payload-plugin.ts';

describe('consensus plugins', () => {
  const node = generateKeyPair();

  test('`default` is BaseConsensusRules, and it implements the whole API', async () => {
    const rules = await loadConsensusPlugin('default');
    assert.ok(rules instanceof BaseConsensusRules);
    const ledger = new MemoryLedger([node.publicKey]);
    const tx = rules.signTransaction(
      rules.createTransaction(node.publicKey, node.publicKey, null, 'CREATE'),
      node.privateKey,
    );
    assert.deepEqual(await rules.validateTransaction(ledger, tx), tx);
    assert.equal(
      rules.validateFulfillments(tx, [ledger.inputCondition(tx.transaction.fulfillments[0]!)!], ledger.now()),
      true,
    );
    const unsigned = createTransaction(node.publicKey, node.publicKey, null, 'CREATE');
    assert.equal(
      rules.validateFulfillments(
        unsigned,
        [ledger.inputCondition(unsigned.transaction.fulfillments[0]!)!],
        ledger.now(),
      ),
      false,
    );
    const block = createBlock([tx], node, [node.publicKey]);
    assert.deepEqual(rules.validateBlock([node.publicKey], block), block);
    assert.throws(() => rules.validateBlock([generateKeyPair().publicKey], block), OperationError);
    const vote = createVote(node, block.id, 'e'.repeat(64), true);
    assert.equal(rules.verifyVoteSignature(block, vote), true);
  });

  test('a plugin module found by path extends the default rules', async () => {
    const rules = await loadConsensusPlugin(`./${PLUGIN}`);
    assert.ok(rules instanceof BaseConsensusRules);
    const ledger = new MemoryLedger([node.publicKey]);
    const tx = rules.signTransaction(
      rules.createTransaction(node.publicKey, node.publicKey, null, 'CREATE'),
      node.privateKey,
    );
    await assert.rejects(rules.validateTransaction(ledger, tx), /this federation requires a payload/);
  });

  test("a plugin with only the seed's six methods gets the base rules' validation-stage hooks", async () => {
    const rules = await loadConsensusPlugin(`./${PLUGIN}#SeedApiOnly`);
    assert.ok(!(rules instanceof BaseConsensusRules));
    const ledger = new MemoryLedger([node.publicKey]);
    const tx = rules.signTransaction(
      rules.createTransaction(node.publicKey, node.publicKey, null, 'CREATE'),
      node.privateKey,
    );
    const job = await rules.prepareTransaction(ledger, tx);
    assert.deepEqual(job.tx, tx);
    await rules.checkAgainstBatch(ledger, tx);
    assert.deepEqual(await rules.validateTransaction(ledger, tx), tx);
  });

  test('BIGCHAINDB_CONSENSUS_PLUGIN names the plugin when no name is given', async () => {
    const saved = process.env.BIGCHAINDB_CONSENSUS_PLUGIN;
    process.env.BIGCHAINDB_CONSENSUS_PLUGIN = `./${PLUGIN}`;
    try {
      const rules = await loadConsensusPlugin();
      assert.equal(rules.constructor.name, 'StrictPayloadRules');
    } finally {
      if (saved === undefined) delete process.env.BIGCHAINDB_CONSENSUS_PLUGIN;
      else process.env.BIGCHAINDB_CONSENSUS_PLUGIN = saved;
    }
  });

  test('a missing module, a missing export and a class that is not a plugin are clear errors', async () => {
    await assert.rejects(loadConsensusPlugin('bigchaindb-plugin-that-does-not-exist'), (error: unknown) => {
      assert.ok(error instanceof ConsensusPluginError);
      assert.match(
        error.message,
        /^No consensus plugin found with name `bigchaindb-plugin-that-does-not-exist`: /,
      );
      return true;
    });
    await assert.rejects(
      loadConsensusPlugin(`./${PLUGIN}#Missing`),
      /does not export a consensus plugin class as `Missing`/,
    );
    await assert.rejects(loadConsensusPlugin(`./${PLUGIN}#NotAPlugin`), (error: unknown) => {
      assert.ok(error instanceof ConsensusPluginError);
      assert.match(error.message, /is not a consensus plugin: it lacks validateBlock, createTransaction/);
      return true;
    });
  });
});
