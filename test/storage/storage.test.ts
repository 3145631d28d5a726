import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockId, type Block } from '../../src/protocol/block.ts';
import { serialize } from '../../src/protocol/json.ts';
import { createVote } from '../../src/protocol/vote.ts';
import {
  BlockConflictError,
  type Changefeed,
  DatabaseAlreadyExists,
  DatabaseDoesNotExist,
  type Storage,
} from '../../src/storage/index.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

/** The first `count` rows of a feed; fails (instead of hanging) if they do not all arrive within 10 s. */
async function collect<T>(feed: Changefeed<T>, count: number): Promise<T[]> {
  const seen: T[] = [];
  const timer = setTimeout(() => void feed.close(), 10_000);
  for await (const batch of feed) {
    seen.push(...batch);
    if (seen.length >= count) break;
  }
  clearTimeout(timer);
  assert.ok(seen.length >= count, `the feed delivered ${seen.length} of ${count} rows within 10 s`);
  return seen;
}

describeEachBackend('storage', (backend) => {
  async function initialized(): Promise<{ storage: Storage; chain: TestChain }> {
    const storage = await backend().fresh();
    const chain = new TestChain();
    await storage.init(chain.genesis);
    return { storage, chain };
  }

  test('init creates the schema with the genesis block; a second init and a drop of nothing say so', async () => {
    const storage = await backend().fresh();
    assert.equal(await storage.isInitialized(), false);
    await assert.rejects(storage.counts(), DatabaseDoesNotExist);
    await assert.rejects(storage.drop(), /does not exist or is not initialized; run `bigchaindb init`/);
    const chain = new TestChain();
    await storage.init(chain.genesis);
    assert.equal(await storage.isInitialized(), true);
    assert.equal(await storage.genesisBlockId(), chain.genesis.id);
    assert.deepEqual(await storage.counts(), { blocks: 1, transactions: 1, votes: 0, backlog: 0 });
    await assert.rejects(storage.init(new TestChain().genesis), (error: Error) => {
      assert.ok(error instanceof DatabaseAlreadyExists);
      assert.match(error.message, /^Database `.+` already exists$/);
      return true;
    });
    await storage.drop();
    assert.equal(await storage.isInitialized(), false);
  });

  test('blocks keep their canonical text byte for byte, so ids re-verify from storage alone', async () => {
    const { storage, chain } = await initialized();
    const alice = generateKeyPair();
    const tx = chain.create(alice.publicKey, {
      float: 1.5,
      big: 9007199254740991,
      text: 'héllo 🌍',
      z: 1,
      a: [],
    });
    const block = chain.block([tx]);
    await storage.writeBlock(block);
    const stored = await storage.getBlock(block.id);
    assert.ok(stored);
    assert.equal(stored.text, serialize(block));
    assert.equal(stored.status, 'undecided');
    assert.equal(blockId((JSON.parse(stored.text) as Block).block), block.id);
    assert.deepEqual(stored.block, block);
    const [copy] = await storage.getTransactions([tx.id]);
    assert.equal(copy && serialize(copy.transaction), serialize(tx));
    assert.equal(await storage.getBlock('0'.repeat(64)), undefined);
  });

  test('backlog: batched insert reports duplicates, lookups by id and by assignee in timestamp order', async () => {
    const { storage, chain } = await initialized();
    const other = generateKeyPair().publicKey;
    const txs = [chain.create(other), chain.create(other), chain.create(other)];
    txs[0]!.transaction.timestamp = '1500000002';
    txs[1]!.transaction.timestamp = '1500000001';
    const first = await storage.writeBacklog([
      { transaction: txs[0]!, assignee: chain.node.publicKey },
      { transaction: txs[1]!, assignee: chain.node.publicKey },
      { transaction: txs[2]!, assignee: other },
    ]);
    assert.deepEqual(first, { inserted: txs.map((tx) => tx.id), duplicates: [] });
    const again = await storage.writeBacklog([{ transaction: txs[0]!, assignee: other }]);
    assert.deepEqual(again, { inserted: [], duplicates: [txs[0]!.id] });
    const mine = await storage.backlogFor(chain.node.publicKey);
    assert.deepEqual(
      mine.map((entry) => entry.transaction.id),
      [txs[1]!.id, txs[0]!.id],
    );
    const byId = await storage.getBacklog([txs[2]!.id, 'missing']);
    assert.equal(byId.size, 1);
    assert.equal(byId.get(txs[2]!.id)?.assignee, other);
    assert.ok(byId.get(txs[2]!.id)!.assignedAt instanceof Date);
    assert.deepEqual(await storage.deleteIncludedFromBacklog([txs[2]!.id]), [], 'in no block: it stays');
    assert.equal((await storage.counts()).backlog, 3);
  });

  test('only backlog copies of transactions in a live block are removed as included', async () => {
    const { storage, chain } = await initialized();
    const owner = generateKeyPair().publicKey;
    const [kept, replayed] = [chain.create(owner), chain.create(owner)];
    const block = chain.block([replayed]);
    await storage.writeBlock(block);
    await storage.writeBacklog([kept, replayed].map((transaction) => ({ transaction, assignee: owner })));
    assert.deepEqual(await storage.deleteIncludedFromBacklog([kept.id, replayed.id]), [replayed.id]);
    await storage.invalidateBlock(block.id, [owner]);
    assert.deepEqual(await storage.deleteIncludedFromBacklog([replayed.id]), [], 'its block is invalid now');
    assert.equal((await storage.getBacklog([replayed.id])).size, 1, 'requeued, and kept');
  });

  test('writing a block removes its transactions from the backlog in the same transaction', async () => {
    const { storage, chain } = await initialized();
    const alice = generateKeyPair().publicKey;
    const inBlock = chain.create(alice);
    const waiting = chain.create(alice);
    await storage.writeBacklog([inBlock, waiting].map((transaction) => ({ transaction, assignee: 'n' })));
    await storage.writeBlock(chain.block([inBlock]));
    assert.deepEqual([...(await storage.getBacklog([inBlock.id, waiting.id])).keys()], [waiting.id]);
  });

  test('transactions by id, by containing block with status, and by payload uuid', async () => {
    const { storage, chain } = await initialized();
    const tx = chain.create(generateKeyPair().publicKey);
    const block = chain.block([tx]);
    await storage.writeBlock(block);
    assert.deepEqual(await storage.blocksContainingTransaction(tx.id), [
      { blockId: block.id, status: 'undecided' },
    ]);
    assert.equal(await storage.markBlockValid(block.id), true);
    assert.equal(await storage.markBlockValid(block.id), false);
    const [copy] = await storage.getTransactions([tx.id]);
    assert.deepEqual(copy, { transaction: tx, blockId: block.id, status: 'valid', live: true });
    const byUuid = await storage.transactionsByUuid(tx.transaction.data.uuid);
    assert.deepEqual(
      byUuid.map((found) => found.transaction.id),
      [tx.id],
    );
    assert.deepEqual(await storage.transactionsByUuid('no-such-uuid'), []);
    assert.deepEqual(await storage.blocksContainingTransaction('f'.repeat(64)), []);
  });

  test('outputs by owner include every participant of a threshold and drop spent outputs', async () => {
    const { storage, chain } = await initialized();
    const alice = generateKeyPair();
    const bob = generateKeyPair();
    const carol = generateKeyPair();
    const single = chain.create(alice.publicKey);
    const shared = chain.create([alice.publicKey, bob.publicKey]);
    await storage.writeBlock(chain.block([single, shared]));
    const ids = (outputs: { txid: string; cid: number }[]) => outputs.map((o) => `${o.txid}:${o.cid}`).sort();
    assert.deepEqual(
      ids(await storage.outputsByOwner(alice.publicKey)),
      ids([
        { txid: single.id, cid: 0 },
        { txid: shared.id, cid: 0 },
      ]),
    );
    assert.deepEqual(ids(await storage.outputsByOwner(bob.publicKey)), [`${shared.id}:0`]);
    const spend = chain.transfer(single, alice, carol.publicKey);
    const spendBlock = chain.block([spend]);
    await storage.writeBlock(spendBlock);
    assert.deepEqual(ids(await storage.outputsByOwner(alice.publicKey, { unspent: true })), [
      `${shared.id}:0`,
    ]);
    assert.deepEqual(ids(await storage.outputsByOwner(carol.publicKey, { unspent: true })), [
      `${spend.id}:0`,
    ]);
    assert.deepEqual(
      await storage.getSpenders([
        { txid: single.id, cid: 0 },
        { txid: shared.id, cid: 0 },
      ]),
      [{ input: { txid: single.id, cid: 0 }, spender: spend.id, blockId: spendBlock.id }],
    );
  });

  test('a block that would double-spend or re-include a transaction is refused whole, naming the clash', async () => {
    const { storage, chain } = await initialized();
    const alice = generateKeyPair();
    const asset = chain.create(alice.publicKey);
    await storage.writeBlock(chain.block([asset]));
    const first = chain.transfer(asset, alice, generateKeyPair().publicKey);
    const firstBlock = chain.block([first]);
    await storage.writeBlock(firstBlock);

    const innocent = chain.create(alice.publicKey);
    const rival = chain.transfer(asset, alice, generateKeyPair().publicKey);
    await storage.writeBacklog([innocent, rival].map((transaction) => ({ transaction, assignee: 'n' })));
    const before = await storage.counts();
    await assert.rejects(storage.writeBlock(chain.block([innocent, rival])), (error: Error) => {
      assert.ok(error instanceof BlockConflictError);
      assert.deepEqual(error.conflicts, [
        {
          kind: 'spent',
          txId: rival.id,
          input: `${asset.id}:0`,
          existingSpender: first.id,
          existingBlock: firstBlock.id,
        },
      ]);
      assert.match(error.message, new RegExp(`already spent by ${first.id} in block ${firstBlock.id}`));
      return true;
    });
    assert.deepEqual(await storage.counts(), before, 'nothing written, backlog untouched');

    // A different block (it has another transaction too) that includes `asset` again.
    await assert.rejects(
      storage.writeBlock(chain.block([chain.create(alice.publicKey), asset])),
      (error: Error) => {
        assert.ok(error instanceof BlockConflictError);
        assert.equal(error.conflicts[0]?.kind, 'included');
        return true;
      },
    );
    const twice = chain.create(alice.publicKey);
    await assert.rejects(storage.writeBlock(chain.block([twice, twice])), BlockConflictError);
    const other = chain.create(alice.publicKey);
    await storage.writeBlock(chain.block([other]));
    const spendA = chain.transfer(other, alice, generateKeyPair().publicKey);
    const spendB = chain.transfer(other, alice, generateKeyPair().publicKey);
    await assert.rejects(storage.writeBlock(chain.block([spendA, spendB])), (error: Error) => {
      assert.ok(error instanceof BlockConflictError);
      assert.deepEqual(
        error.conflicts.map((c) => [c.kind, c.txId]),
        [['spent', spendB.id]],
      );
      return true;
    });
    await assert.rejects(storage.writeBlock(firstBlock), /is already stored/);
  });

  test('invalidating a block frees its spends, requeues its transactions once, and is decided only once', async () => {
    const { storage, chain } = await initialized();
    const alice = generateKeyPair();
    const asset = chain.create(alice.publicKey);
    await storage.writeBlock(chain.block([asset]));
    const spend = chain.transfer(asset, alice, generateKeyPair().publicKey);
    const bad = chain.block([spend]);
    await storage.writeBlock(bad);
    const nodes = [generateKeyPair().publicKey, generateKeyPair().publicKey];
    const [firstCall, secondCall] = await Promise.all([
      storage.invalidateBlock(bad.id, nodes),
      storage.invalidateBlock(bad.id, nodes),
    ]);
    const decided = [firstCall, secondCall].filter((result) => result.decided);
    assert.equal(decided.length, 1);
    assert.deepEqual(decided[0]?.requeued, [spend.id]);
    const requeued = (await storage.getBacklog([spend.id])).get(spend.id);
    assert.ok(requeued && nodes.includes(requeued.assignee));
    assert.deepEqual(requeued.transaction, spend);
    assert.equal(await storage.markBlockValid(bad.id), false, 'a decided block stays decided');
    assert.deepEqual(await storage.getSpenders([{ txid: asset.id, cid: 0 }]), []);
    assert.deepEqual(await storage.blocksContainingTransaction(spend.id), [
      { blockId: bad.id, status: 'invalid' },
    ]);
    assert.deepEqual(
      (await storage.outputsByOwner(alice.publicKey, { unspent: true })).map((o) => o.txid),
      [asset.id],
    );
    // Another transaction too, so the block id differs from `bad` even within the same second.
    const retry = chain.block([spend, chain.create(alice.publicKey)]);
    await storage.writeBlock(retry);
    assert.deepEqual(
      (await storage.getTransactions([spend.id])).map((copy) => [copy.blockId, copy.status, copy.live]),
      [
        [bad.id, 'invalid', false],
        [retry.id, 'undecided', true],
      ],
    );
  });

  test('votes: one per node and block, read back by block and as the voter’s last vote', async () => {
    const { storage, chain } = await initialized();
    const tx = chain.create(generateKeyPair().publicKey);
    const block = chain.block([tx]);
    await storage.writeBlock(block);
    const other = generateKeyPair();
    assert.deepEqual(
      (await storage.unvotedBlocks(chain.node.publicKey)).map((stored) => stored.block.id),
      [chain.genesis.id, block.id],
    );
    const onGenesis = createVote(chain.node, chain.genesis.id, chain.genesis.id + 'x', true);
    const onBlock = createVote(chain.node, block.id, chain.genesis.id, true);
    const byOther = createVote(other, block.id, chain.genesis.id, false);
    assert.deepEqual(await storage.writeVotes([onGenesis, onBlock, byOther]), {
      inserted: [chain.genesis.id, block.id, block.id],
      duplicates: [],
    });
    const again = createVote(chain.node, block.id, chain.genesis.id, false);
    assert.deepEqual(await storage.writeVotes([again]), { inserted: [], duplicates: [block.id] });
    const votes = await storage.getVotes([block.id, 'none']);
    assert.deepEqual(
      votes.get(block.id)?.map((stored) => stored.text),
      [serialize(onBlock), serialize(byOther)],
    );
    assert.deepEqual(votes.get('none'), []);
    assert.deepEqual((await storage.getVote(block.id, other.publicKey))?.vote, byOther);
    assert.deepEqual((await storage.lastVote(chain.node.publicKey))?.vote, onBlock);
    assert.equal(await storage.lastVote(generateKeyPair().publicKey), undefined);
    assert.deepEqual(await storage.unvotedBlocks(chain.node.publicKey), []);
  });

  test('stale backlog entries move to another node and come through the changefeed again', async () => {
    const { storage, chain } = await initialized();
    const [a, b] = [generateKeyPair().publicKey, generateKeyPair().publicKey];
    const tx = chain.create(a);
    await storage.writeBacklog([{ transaction: tx, assignee: a }]);
    assert.deepEqual(await storage.reassignStale(60_000, [a, b]), []);
    const feed = storage.backlogFeed({ assignee: b, after: await storage.feedHead() });
    const seen = collect(feed, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(await storage.reassignStale(0, [a, b]), [{ txId: tx.id, assignee: b }]);
    assert.deepEqual(
      (await seen).map((entry) => [entry.transaction.id, entry.assignee]),
      [[tx.id, b]],
    );
    assert.deepEqual(await storage.reassignStale(0, [b]), [], 'alone: its own transactions stay');
    assert.deepEqual(
      await storage.reassignStale(0, [a]),
      [{ txId: tx.id, assignee: a }],
      'a transaction of a node no longer in the federation moves',
    );
  });

  test('rejected transactions leave the backlog and keep their reason', async () => {
    const { storage, chain } = await initialized();
    const tx = chain.create(generateKeyPair().publicKey);
    await storage.writeBacklog([{ transaction: tx, assignee: 'n' }]);
    await storage.rejectTransactions([{ transaction: tx, reason: 'Invalid fulfillment 0' }]);
    assert.equal((await storage.getBacklog([tx.id])).size, 0);
    const rejected = (await storage.getRejected([tx.id])).get(tx.id);
    assert.equal(rejected?.reason, 'Invalid fulfillment 0');
    assert.deepEqual(rejected?.transaction, tx);
  });

  test('changefeeds deliver every insert once, in order, from the start or from the head', async () => {
    const { storage, chain } = await initialized();
    // More than 10 rows, so that any text (not numeric) ordering of positions would show.
    const fromStart = collect(storage.blockFeed(), 13);
    const head = await storage.feedHead();
    const blocks = Array.from({ length: 12 }, () => chain.block([chain.create(generateKeyPair().publicKey)]));
    for (const block of blocks) await storage.writeBlock(block);
    assert.deepEqual(
      (await fromStart).map((stored) => stored.block.id),
      [chain.genesis.id, ...blocks.map((block) => block.id)],
    );
    assert.deepEqual(
      (await collect(storage.blockFeed({ after: head }), 12)).map((stored) => stored.block.id),
      blocks.map((block) => block.id),
    );
    const votes = collect(storage.voteFeed({ after: head }), 1);
    const vote = createVote(chain.node, blocks[0]!.id, chain.genesis.id, true);
    await storage.writeVotes([vote]);
    assert.deepEqual(
      (await votes).map((stored) => stored.vote),
      [vote],
    );
  });

  test('changefeed: a row whose writer commits late is delivered, and in (xid, seq) order', async () => {
    const { storage, chain } = await initialized();
    const feed = storage.backlogFeed({ after: await storage.feedHead() });
    const seen = collect(feed, 2);
    const early = chain.create(generateKeyPair().publicKey);
    const late = chain.create(generateKeyPair().publicKey);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first writer takes its xid, then waits; the second commits meanwhile (on PGlite it waits its turn).
    const slow = rawDriver(storage).transaction(async (session) => {
      await session.query(
        "INSERT INTO backlog (tx_id, assignee, tx_timestamp, doc) VALUES ($1, 'n', '1', $2)",
        [early.id, serialize(early)],
      );
      await held;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fast = storage.writeBacklog([{ transaction: late, assignee: 'n' }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await Promise.all([slow, fast]);
    assert.deepEqual(
      (await seen).map((entry) => entry.transaction.id),
      [early.id, late.id],
    );
  });

  test('storage.transaction runs every query of its Storage in it: a throw rolls back them all', async () => {
    const { storage, chain } = await initialized();
    const tx = chain.create(generateKeyPair().publicKey);
    const block = chain.block([chain.create(generateKeyPair().publicKey)]);
    await assert.rejects(
      storage.transaction(async (inside) => {
        await inside.writeBacklog([{ transaction: tx, assignee: 'n' }]);
        await inside.writeBlock(block);
        assert.equal((await inside.counts()).blocks, 2);
        // Joined, not nested: the inner work is undone with the outer.
        await inside.transaction((same) => same.markBlockValid(block.id));
        throw new Error('undo');
      }),
      /undo/,
    );
    assert.deepEqual(await storage.counts(), { blocks: 1, transactions: 1, votes: 0, backlog: 0 });
    assert.equal(
      await storage.transaction(
        async (inside) => (await inside.writeBacklog([{ transaction: tx, assignee: 'n' }])).inserted[0],
      ),
      tx.id,
    );
    assert.equal((await storage.counts()).backlog, 1);
  });

  test('storage.snapshot reads one instant and writes nothing', async () => {
    const { storage, chain } = await initialized();
    const tx = chain.create(generateKeyPair().publicKey);
    const counts = await storage.snapshot((snapshot) => snapshot.counts());
    assert.deepEqual(counts, { blocks: 1, transactions: 1, votes: 0, backlog: 0 });
    await assert.rejects(
      storage.snapshot((snapshot) => snapshot.writeBacklog([{ transaction: tx, assignee: 'n' }])),
      /read-only transaction/,
    );
    await assert.rejects(
      storage.transaction((inside) => inside.snapshot((snapshot) => snapshot.counts())),
      /a snapshot cannot start inside a transaction/,
    );
  });

  test('racing writers: of two blocks spending one output, exactly one is stored', async () => {
    const { storage, chain } = await initialized();
    const alice = generateKeyPair();
    const assets = Array.from({ length: 20 }, () => chain.create(alice.publicKey));
    await storage.writeBlock(chain.block(assets));
    for (const asset of assets) {
      const rivals = [0, 1].map(() =>
        chain.block([chain.transfer(asset, alice, generateKeyPair().publicKey)]),
      );
      const results = await Promise.allSettled(rivals.map((block) => storage.writeBlock(block)));
      assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
      const refused = results.find((result) => result.status === 'rejected');
      assert.ok(refused?.status === 'rejected' && refused.reason instanceof BlockConflictError);
      assert.equal((await storage.getSpenders([{ txid: asset.id, cid: 0 }])).length, 1);
    }
  });

  test('planner statistics are refreshed as the chain grows, without waiting for autovacuum', async () => {
    const { storage, chain } = await initialized();
    const owner = generateKeyPair().publicKey;
    const statistics = async () => {
      const [row] = await rawDriver(storage).query<{ rows: number }>(
        "SELECT reltuples::float8 AS rows FROM pg_class WHERE relname = 'transactions'",
      );
      return row?.rows;
    };
    // Transactions are not signed here: storage does not verify, and 10,000 signatures would only cost time.
    const template = chain.create(owner);
    const unsigned = (n: number) => ({ ...template, id: `${n}`.padStart(64, '0') });
    for (let i = 0; i < 10; i++) {
      await storage.writeBlock(
        chain.block(Array.from({ length: 1000 }, (_, j) => unsigned(i * 1000 + j + 1))),
      );
    }
    assert.equal(await statistics(), 10_001);
  });
});
