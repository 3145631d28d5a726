import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { createBlock } from '../../src/protocol/block.ts';
import type { Transaction } from '../../src/protocol/transaction.ts';
import { createVote } from '../../src/protocol/vote.ts';
import { Bigchain } from '../../src/node/bigchain.ts';
import { BigchainNode, type NodeOptions } from '../../src/node/node.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { forged, generateKeyPair, TestChain } from '../support/chain.ts';
import { describeEachBackend } from '../support/storage-backends.ts';
import { allSettled, outcomes } from '../support/outcomes.ts';
import { memoryLog } from '../support/memory-log.ts';
import { waitFor } from '../support/wait.ts';

const FAST: NodeOptions = { blockSize: 10, blockTimeoutMs: 50, reassignDelayMs: 60_000, verifyWorkers: 2 };

describeEachBackend('a running node', (backend) => {
  const running: { node: BigchainNode; bigchain: Bigchain }[] = [];
  afterEach(async () => {
    for (const { node } of running.splice(0)) await node.stop();
  });

  async function startNode(
    chain: TestChain,
    options: { keyring?: string[]; storage?: Storage; node?: NodeOptions } = {},
  ): Promise<{ node: BigchainNode; bigchain: Bigchain }> {
    const storage = options.storage ?? (await backend().fresh());
    const bigchain = new Bigchain({ storage, keyPair: chain.node, keyring: options.keyring ?? [] });
    const node = await BigchainNode.start(bigchain, { ...FAST, ...options.node });
    const entry = { node, bigchain };
    running.push(entry);
    return entry;
  }

  async function stop(entry: { node: BigchainNode }): Promise<void> {
    await entry.node.stop();
    running.splice(running.indexOf(entry as (typeof running)[number]), 1);
  }

  test('packs its backlog into blocks, votes on them and decides them valid; invalid ones are rejected with their reason', async () => {
    const chain = new TestChain();
    const { log, lines } = memoryLog();
    const entry = await startNode(chain, { node: { log } });
    const { bigchain, node } = entry;
    const alice = generateKeyPair();
    const creates = Array.from({ length: 35 }, () => chain.create(alice.publicKey));
    for (const tx of creates) await bigchain.writeTransaction(tx);
    const statuses = await waitFor('the creates to be valid', async () => {
      const s = await outcomes(
        bigchain.storage,
        creates.map((tx) => tx.id),
      );
      return allSettled(s) && s;
    });
    assert.deepEqual(new Set(statuses.values()), new Set(['valid']));

    // A block is never bigger than blockSize.
    const blocks = await bigchain.storage.blocksContainingTransaction(creates[0]!.id);
    const [stored] = (await bigchain.storage.getBlocks(blocks.map((b) => b.blockId))).values();
    assert.ok(stored !== undefined && stored.block.block.transactions.length <= 10);

    const spend = chain.transfer(creates[0]!, alice, generateKeyPair().publicKey);
    const doubleSpend = chain.transfer(creates[0]!, alice, generateKeyPair().publicKey);
    const badSignature = forged(chain.transfer(creates[1]!, alice, generateKeyPair().publicKey), spend);
    const replay = creates[2]!;
    for (const tx of [spend, doubleSpend, badSignature]) await bigchain.writeTransaction(tx);
    await bigchain.storage.writeBacklog([{ transaction: replay, assignee: bigchain.me }]);
    const ids = [spend.id, doubleSpend.id, badSignature.id];
    const settled = await waitFor('the transfers to settle', async () => {
      const s = await outcomes(bigchain.storage, ids);
      const backlog = await bigchain.storage.getBacklog([replay.id]);
      return allSettled(s) && backlog.size === 0 && s;
    });
    assert.deepEqual(
      [...settled.values()],
      ['valid', 'rejected', 'rejected'],
      'the first spend wins, the second and the forged one are rejected',
    );
    const reasons = await bigchain.storage.getRejected(ids);
    assert.match(reasons.get(doubleSpend.id)!.reason, /^DoubleSpend: /);
    assert.match(reasons.get(badSignature.id)!.reason, /^InvalidSignature: /);
    const reported = await bigchain.getTransactionWithStatus(doubleSpend.id);
    assert.deepEqual(
      { ...reported, reason: reported.reason?.split(':')[0] },
      { transaction: doubleSpend, status: 'invalid', reason: 'DoubleSpend' },
      'the server API reports a rejected transaction as invalid, with its reason',
    );
    assert.equal(await bigchain.getStatus(replay.id), 'valid', 'the replayed copy was dropped, not rejected');
    assert.equal((await bigchain.storage.getRejected([replay.id])).size, 0);
    assert.ok(
      lines.some((line) => /INFO  \[block\] Write new block [0-9a-f]{64} with \d+ transactions/.test(line)),
    );

    // Verified once per node: the votes on its own blocks did not check any signature again.
    assert.equal(node.signaturesChecked, creates.length + 3);
  });

  test('stopping finishes the block in hand and leaves every other transaction in the backlog', async () => {
    const chain = new TestChain();
    const entry = await startNode(chain, { node: { blockSize: 100, blockTimeoutMs: 10 } });
    const owner = generateKeyPair().publicKey;
    const txs = Array.from({ length: 600 }, () => chain.create(owner));
    await entry.bigchain.storage.writeBacklog(
      txs.map((transaction) => ({ transaction, assignee: entry.bigchain.me })),
    );
    await waitFor('a first block', async () => (await entry.bigchain.storage.counts()).blocks > 1);
    await stop(entry);
    const statuses = await outcomes(
      entry.bigchain.storage,
      txs.map((tx) => tx.id),
    );
    const counts = new Map<string, number>();
    for (const status of statuses.values()) counts.set(status, (counts.get(status) ?? 0) + 1);
    assert.equal(counts.get('missing'), undefined, 'nothing lost');
    assert.equal(counts.get('rejected'), undefined);
    assert.ok((counts.get('backlog') ?? 0) > 0, 'stopped before the end');

    // Restarted, it takes up the rest.
    const restarted = await startNode(chain, { storage: entry.bigchain.storage });
    await waitFor(
      'the rest to be valid',
      async () => {
        const s = await outcomes(
          restarted.bigchain.storage,
          txs.map((tx) => tx.id),
        );
        return [...s.values()].every((status) => status === 'valid');
      },
      { timeoutMs: 60_000 },
    );
  });

  test('votes on the blocks written while it was down, in order, chaining previous_block', async () => {
    const chain = new TestChain();
    const other = generateKeyPair();
    const storage = await backend().fresh();
    const federation = [other.publicKey, chain.node.publicKey];
    const bigchain = new Bigchain({ storage, keyPair: chain.node, keyring: [other.publicKey] });
    await bigchain.createGenesisBlock();
    const owner = generateKeyPair().publicKey;
    const blocks = [1, 2, 3].map((n) => createBlock([chain.create(owner, { n })], other, federation));
    for (const block of blocks) await storage.writeBlock(block);

    const { node } = await startNode(chain, { storage, keyring: [other.publicKey] });
    const votes = await waitFor('three votes', async () => {
      const byBlock = await storage.getVotes(blocks.map((block) => block.id));
      const mine = blocks.map((block) =>
        byBlock.get(block.id)?.find((v) => v.vote.node_pubkey === chain.node.publicKey),
      );
      return mine.every((vote) => vote !== undefined) && mine.map((vote) => vote.vote.vote);
    });
    assert.deepEqual(
      votes.map((vote) => [vote.voting_for_block, vote.previous_block, vote.is_block_valid]),
      [
        [blocks[0]!.id, await storage.genesisBlockId(), true],
        [blocks[1]!.id, blocks[0]!.id, true],
        [blocks[2]!.id, blocks[1]!.id, true],
      ],
    );
    assert.equal(node.signaturesChecked, 3, 'a block by another node is checked');
    // One of two voters said yes: undecided until the other votes.
    assert.deepEqual([...(await storage.blockStatuses([blocks[0]!.id])).values()], ['undecided']);
    await storage.writeVotes([createVote(other, blocks[0]!.id, await storage.genesisBlockId(), true)]);
    await waitFor(
      'the election',
      async () => (await storage.blockStatuses([blocks[0]!.id])).get(blocks[0]!.id) === 'valid',
    );
  });

  test('a block decided invalid has its transactions requeued once, and they end in a valid block', async () => {
    const chain = new TestChain();
    const other = generateKeyPair();
    const { bigchain } = await startNode(chain, {
      keyring: [other.publicKey],
      node: { reassignDelayMs: 300 },
    });
    const storage = bigchain.storage;
    const owner = generateKeyPair().publicKey;
    const txs: Transaction[] = [chain.create(owner), chain.create(owner)];
    // Assigned to this node (the other one is not running).
    await storage.writeBacklog(txs.map((transaction) => ({ transaction, assignee: bigchain.me })));
    const first = await waitFor('a block', async () => {
      const blocks = await storage.blocksContainingTransaction(txs[0]!.id);
      return blocks[0];
    });
    // The other voter says no: 1 yes, 1 no of 2 voters is a tie, so invalid.
    await waitFor(
      'this node to vote',
      async () => (await storage.getVote(first.blockId, bigchain.me)) !== undefined,
    );
    await storage.writeVotes([
      createVote(other, first.blockId, await storage.genesisBlockId(), false, 'test'),
    ]);
    await waitFor(
      'the block to be invalid',
      async () => (await storage.blockStatuses([first.blockId])).get(first.blockId) === 'invalid',
    );
    // Requeued to the other node; nobody runs it, so after the reassign delay it comes back here.
    const second = await waitFor(
      'a second block',
      async () => {
        const blocks = await storage.blocksContainingTransaction(txs[0]!.id);
        return blocks.find((b) => b.blockId !== first.blockId);
      },
      { timeoutMs: 20_000 },
    );
    assert.equal((await storage.blocksContainingTransaction(txs[0]!.id)).length, 2, 'requeued once');
    await waitFor(
      'this node to vote again',
      async () => (await storage.getVote(second.blockId, bigchain.me)) !== undefined,
    );
    const previous = (await storage.getVote(second.blockId, bigchain.me))!.vote.vote.previous_block;
    await storage.writeVotes([createVote(other, second.blockId, previous, true)]);
    await waitFor('the transactions to be valid', async () => {
      const s = await outcomes(
        storage,
        txs.map((tx) => tx.id),
      );
      return [...s.values()].every((status) => status === 'valid');
    });
    assert.equal(await bigchain.getStatus(txs[1]!.id), 'valid');
  });
});

test('the supervisor restarts a failed stage and logs why', async () => {
  const { Supervisor } = await import('../../src/node/supervisor.ts');
  const { log, lines } = memoryLog();
  const supervisor = new Supervisor(log);
  let runs = 0;
  let release: (() => void) | undefined;
  supervisor.start('flaky', () => ({
    name: 'flaky',
    run: async () => {
      runs++;
      if (runs < 3) throw new Error(`connection lost (${runs})`);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    stop: async () => release?.(),
  }));
  await waitFor('the third run', async () => runs === 3);
  await supervisor.stop();
  assert.deepEqual(supervisor.restarts.get('flaky'), 2);
  // Two failures are restarts (WARN), not yet a stall (STALL_AFTER = 3).
  assert.equal(lines.filter((line) => line.includes('WARN  flaky failed, restarting in')).length, 2);
  assert.equal(lines.filter((line) => line.includes(' ERROR ')).length, 0);
  assert.ok(lines.some((line) => line.includes('Error: connection lost (1)')));
});
