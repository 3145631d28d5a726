import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBlock } from '../../src/protocol/block.ts';
import { DoubleSpend } from '../../src/protocol/validation-errors.ts';
import { defaultConfig, KeypairNotFoundException } from '../../src/config/config.ts';
import { ConsensusPluginError } from '../../src/node/consensus-plugin.ts';
import { Bigchain, GenesisBlockAlreadyExistsError } from '../../src/node/bigchain.ts';
import { IN_MEMORY_PATH } from '../../src/storage/embedded-server.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

describeEachBackend('Bigchain server API', (backend) => {
  /** A one-node federation whose node key is the test chain's, so chain.create() gives valid CREATEs. */
  async function node(): Promise<{ b: Bigchain; chain: TestChain }> {
    const chain = new TestChain();
    const b = new Bigchain({ storage: await backend().fresh(), keyPair: chain.node });
    await b.createGenesisBlock();
    return { b, chain };
  }

  test('genesis once; statuses move backlog → undecided → valid; the seed’s lookups', async () => {
    const { b, chain } = await node();
    const prepared = b.prepareGenesisBlock();
    assert.equal(prepared.block.transactions[0]?.transaction.operation, 'GENESIS');
    assert.deepEqual(prepared.block.voters, [b.me]);
    await assert.rejects(b.createGenesisBlock(), (error: Error) => {
      assert.ok(error instanceof GenesisBlockAlreadyExistsError);
      assert.equal(error.message, 'Cannot create the Genesis block');
      return true;
    });
    const alice = generateKeyPair();
    const tx = chain.create(alice.publicKey);
    assert.deepEqual(await b.writeTransaction(tx), { inserted: 1, duplicates: 0, assignee: b.me });
    assert.deepEqual(await b.writeTransaction(tx), { inserted: 0, duplicates: 1, assignee: b.me });
    assert.deepEqual(await b.getTransactionWithStatus(tx.id), { transaction: tx, status: 'backlog' });
    assert.deepEqual(
      (await b.storage.getBacklog([tx.id])).get(tx.id)?.assignee,
      b.me,
      'alone: assigned to itself',
    );

    assert.equal(await b.isValidTransaction(tx), tx);
    const block = b.createBlock([tx]);
    assert.deepEqual(block.block.voters, [b.me]);
    await b.writeBlock(block);
    assert.equal(await b.getStatus(tx.id), 'undecided');
    assert.deepEqual(await b.getBlocksStatusContainingTx(tx.id), { [block.id]: 'undecided' });
    assert.equal(await b.getBlocksStatusContainingTx('0'.repeat(64)), null);
    assert.deepEqual(await b.getTxByPayloadUuid(tx.transaction.data.uuid), [tx]);
    assert.deepEqual(await b.getOwnedIds(alice.publicKey), [{ txid: tx.id, cid: 0 }]);

    assert.equal(await b.blockElectionStatus(block), 'undecided');
    assert.deepEqual(
      (await b.getUnvotedBlocks()).map((unvoted) => unvoted.id),
      [block.id],
    );
    assert.equal((await b.getLastVotedBlock()).id, await b.storage.genesisBlockId());
    assert.equal(await b.hasPreviousVote(block), false);
    const genesisId = await b.storage.genesisBlockId();
    assert.equal(await b.writeVote(b.vote(block.id, genesisId, true)), true);
    assert.equal(await b.writeVote(b.vote(block.id, genesisId, false)), false, 'one vote per block');
    assert.equal(await b.hasPreviousVote(block), true);
    assert.equal((await b.getLastVotedBlock()).id, block.id);
    assert.deepEqual(await b.getUnvotedBlocks(), []);
    assert.equal(await b.blockElectionStatus(block), 'valid');
    const election = [
      { id: block.id, block: { voters: [b.me] }, votes: [(await b.storage.getVote(block.id, b.me))!.vote] },
    ];
    assert.deepEqual(await b.searchBlockElectionOnIndex(tx.id, 'transaction_id'), election);
    assert.deepEqual(await b.searchBlockElectionOnIndex(tx.transaction.data.uuid, 'payload_uuid'), election);
    assert.deepEqual(await b.searchBlockElectionOnIndex('0'.repeat(64), 'transaction_id'), []);
    await assert.rejects(b.searchBlockElectionOnIndex(tx.id, 'owner' as never), /unknown index "owner"/);
    await b.storage.markBlockValid(block.id);
    assert.equal(await b.getStatus(tx.id), 'valid');

    const bob = generateKeyPair();
    const transfer = chain.transfer(tx, alice, bob.publicKey);
    assert.equal(await b.validateFulfillments(transfer), true);
    assert.equal(await b.isValidTransaction(transfer), transfer);
    const spendBlock = b.createBlock([transfer]);
    await b.writeBlock(spendBlock);
    assert.deepEqual(await b.getSpent({ txid: tx.id, cid: 0 }), transfer);
    assert.deepEqual(await b.getOwnedIds(alice.publicKey), []);
    assert.deepEqual(await b.getOwnedIds(bob.publicKey), [{ txid: transfer.id, cid: 0 }]);
  });

  test('block validation: its own transactions are not replays, a double spend inside it is caught', async () => {
    const { b, chain } = await node();
    const alice = generateKeyPair();
    const asset = chain.create(alice.publicKey);
    const assetBlock = b.createBlock([asset]);
    await b.writeBlock(assetBlock);
    await b.storage.markBlockValid(assetBlock.id);

    const spend = chain.transfer(asset, alice, generateKeyPair().publicKey);
    const good = b.createBlock([spend]);
    await b.writeBlock(good);
    assert.equal(await b.isValidBlock(good), true);

    const rival = chain.transfer(asset, alice, generateKeyPair().publicKey);
    const another = chain.transfer(asset, alice, generateKeyPair().publicKey);
    await assert.rejects(b.validateBlock(b.createBlock([rival])), DoubleSpend, 'spent by the stored block');
    await b.storage.invalidateBlock(good.id, [b.me]);
    await assert.rejects(
      b.validateBlock(b.createBlock([rival, another])),
      DoubleSpend,
      'two spends in one block',
    );
    assert.equal(await b.isValidBlock(b.createBlock([rival])), true);

    const outsider = generateKeyPair();
    assert.equal(
      await b.isValidBlock(createBlock([rival], outsider, [b.me])),
      false,
      'not a federation node',
    );
  });

  test('signAsNode signs with the node key, which is no property of the Bigchain (0.6 had me_private)', async () => {
    const { b, chain } = await node();
    const alice = generateKeyPair();
    const tx = b.createTransaction(b.me, alice.publicKey, null, 'CREATE', { payload: { n: 1 } });
    const signed = await b.signAsNode(tx);
    assert.deepEqual(signed, await b.signTransaction(tx, chain.node.privateKey));
    assert.equal(await b.validateFulfillments(signed), true);
    assert.equal('mePrivate' in b, false);
    assert.ok(!Object.values(b).includes(chain.node.privateKey));
  });
});

test('Bigchain.open: the node of a configuration (keypair, keyring, database, consensus plugin)', async () => {
  const config = defaultConfig();
  config.database = { ...config.database, path: IN_MEMORY_PATH };
  await assert.rejects(Bigchain.open(config), KeypairNotFoundException);
  const key = generateKeyPair();
  const other = generateKeyPair().publicKey;
  config.keypair = { public: key.publicKey, private: key.privateKey };
  config.keyring = [other];
  await assert.rejects(
    Bigchain.open({ ...config, consensus_plugin: './no/such/plugin.ts' }),
    ConsensusPluginError,
  );
  const b = await Bigchain.open(config);
  try {
    assert.equal(b.me, key.publicKey);
    assert.deepEqual(b.nodesExceptMe, [other]);
    const genesis = await b.createGenesisBlock();
    assert.deepEqual(genesis.block.voters, [other, key.publicKey]);
  } finally {
    await b.close();
  }
});
