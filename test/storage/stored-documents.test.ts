import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serialize } from '../../src/protocol/json.ts';
import { createVote } from '../../src/protocol/vote.ts';
import { StorageError, type Storage } from '../../src/storage/index.ts';
import { SCHEMA_VERSION } from '../../src/storage/schema.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

/**
 * What the node reads back from the database must not depend on what a document contains: PostgreSQL's
 * `json` refuses `\u0000` when it de-escapes a string, so a query that parsed a stored block in SQL failed
 * for ever on a block holding one (issue 12). Such a text can no longer be written (canonical JSON refuses
 * U+0000), so the tests put it in with SQL, as a database written by an earlier version holds it.
 */
describeEachBackend('stored documents', (backend) => {
  async function chainWithBlock(): Promise<{ storage: Storage; chain: TestChain; blockId: string }> {
    const storage = await backend().fresh();
    const chain = new TestChain();
    await storage.init(chain.genesis);
    const owner = generateKeyPair().publicKey;
    const block = chain.block([chain.create(owner, { msg: 'marker' }), chain.create(owner)]);
    await storage.writeBlock(block);
    // The payload as a database written before the rule holds it: the JSON escape of U+0000.
    const poisoned = '"msg":"nul \\u0000 here"';
    await rawDriver(storage).query(
      `UPDATE blocks SET doc = replace(doc, '"msg":"marker"', $1) WHERE id = $2`,
      [poisoned, block.id],
    );
    await rawDriver(storage).query(
      `UPDATE transactions SET doc = replace(doc, '"msg":"marker"', $1) WHERE block_id = $2`,
      [poisoned, block.id],
    );
    const [stored] = await rawDriver(storage).query<{ n: number }>(
      "SELECT count(*)::int AS n FROM blocks WHERE doc LIKE '%\\\\u0000%'",
    );
    assert.equal(stored?.n, 1, 'the block text holds the escape');
    return { storage, chain, blockId: block.id };
  }

  test('the election reads the voters of a block whose text holds \\u0000', async () => {
    const { storage, chain, blockId } = await chainWithBlock();
    assert.deepEqual(
      await storage.undecidedBlockVoters([blockId]),
      new Map([[blockId, [chain.node.publicKey]]]),
    );
    assert.equal((await storage.undecidedBlocks()).length, 2, 'the genesis block and this one');
  });

  test('a block holding \\u0000 decided invalid requeues its transactions, timestamps and all', async () => {
    const { storage, chain, blockId } = await chainWithBlock();
    const { decided, requeued } = await storage.invalidateBlock(blockId, [chain.node.publicKey]);
    assert.equal(decided, true);
    assert.equal(requeued.length, 2);
    const backlog = await storage.getBacklog(requeued);
    for (const id of requeued) {
      const entry = backlog.get(id);
      assert.ok(entry, `transaction ${id} is back in the backlog`);
      assert.match(entry.transaction.transaction.timestamp, /^\d+$/);
    }
    const [poisoned] = [...backlog.values()].filter(
      (entry) => entry.transaction.transaction.data.payload?.msg,
    );
    assert.equal(poisoned?.transaction.transaction.data.payload?.msg, 'nul \u0000 here');
    // What the block pipeline then does with it: refused with the reason, kept on record.
    await storage.rejectTransactions([{ transaction: poisoned.transaction, reason: 'SchemaError: NUL' }]);
    const rejected = await storage.getRejected([poisoned.transaction.id]);
    assert.equal(
      rejected.get(poisoned.transaction.id)?.transaction.transaction.data.payload?.msg,
      'nul \u0000 here',
    );
  });

  test('a version-1 database is upgraded on open: every block gets its voters column', async () => {
    const storage = await backend().fresh();
    const chain = new TestChain();
    await storage.init(chain.genesis);
    const owner = generateKeyPair().publicKey;
    // More blocks than one upgrade batch (200).
    const blocks = Array.from({ length: 230 }, () => chain.block([chain.create(owner)]));
    for (const block of blocks) await storage.writeBlock(block);
    await storage.writeVotes([createVote(chain.node, blocks[0]!.id, chain.genesis.id, true)]);
    // Back to the version-1 schema: no voters column, no backlog tags.
    await rawDriver(storage).query('ALTER TABLE blocks DROP COLUMN voters');
    await rawDriver(storage).query('ALTER TABLE backlog DROP COLUMN verified_tag');
    await rawDriver(storage).query("UPDATE bigchaindb_meta SET value = '1' WHERE key = 'schema_version'");

    assert.deepEqual(await storage.upgrade(), { from: '1' });
    assert.equal(await storage.meta('schema_version'), SCHEMA_VERSION);
    const voters = await storage.undecidedBlockVoters(blocks.map((block) => block.id));
    assert.equal(voters.size, blocks.length);
    for (const block of blocks) assert.deepEqual(voters.get(block.id), block.block.voters);
    const [column] = await rawDriver(storage).query<{ nullable: string }>(
      "SELECT is_nullable AS nullable FROM information_schema.columns WHERE table_name = 'blocks' AND column_name = 'voters'",
    );
    assert.equal(column?.nullable, 'NO');
    assert.equal(await storage.upgrade(), undefined, 'nothing left to do');
    // New blocks after the upgrade are written as before.
    const next = chain.block([chain.create(owner)]);
    await storage.writeBlock(next);
    assert.deepEqual((await storage.undecidedBlockVoters([next.id])).get(next.id), [chain.node.publicKey]);
    assert.equal(serialize(next.block.voters), JSON.stringify([chain.node.publicKey]));
  });

  test('a database from a newer schema version is refused with the reason, untouched', async () => {
    const storage = await backend().fresh();
    await storage.init(new TestChain().genesis);
    await rawDriver(storage).query("UPDATE bigchaindb_meta SET value = '99' WHERE key = 'schema_version'");
    await assert.rejects(storage.upgrade(), (error: Error) => {
      assert.ok(error instanceof StorageError);
      assert.match(
        error.message,
        new RegExp(`has schema version 99, which this node \\(schema ${SCHEMA_VERSION}\\) cannot read`),
      );
      return true;
    });
    assert.equal(await storage.meta('schema_version'), '99');
  });
});
