import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { Bigchain } from '../../src/node/bigchain.ts';
import { BigchainNode } from '../../src/node/node.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { writeLongChain, type Fate } from '../support/long-chain.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

/**
 * A node that was down while 1,580 blocks arrived and were voted on by the federation: at start its
 * election recounts the undecided blocks (Storage.undecidedBlocks, 500 per page) and decides every one.
 * Issue 12: the catch-up paged by the seq's text, so past the first page it skipped blocks, which then stayed
 * undecided for ever (no new vote would bring them to the election again).
 */
const DECIDED_BEFORE = 20;
const ARRIVED = 1580;
const DECIDE_WITHIN_MS = 30_000;

/** Blocks of seq 2…21 decided before the node went down, then seq 22…1601 voted on but not decided. */
function fates(): Fate[] {
  const list: Fate[] = [];
  for (let seq = 2; seq <= 1 + DECIDED_BEFORE + ARRIVED; seq++) {
    if (seq <= 1 + DECIDED_BEFORE) list.push('valid');
    else list.push(seq % 97 === 0 ? 'pending-invalid' : 'pending-valid');
  }
  return list;
}

async function undecided(storage: Storage): Promise<string[]> {
  const rows = await rawDriver(storage).query<{ seq: string }>(
    "SELECT b.seq::text AS seq FROM blocks b WHERE b.status = 'undecided' AND b.seq > 1 ORDER BY b.seq",
  );
  return rows.map((row) => row.seq);
}

describeEachBackend('election catch-up after a node was down', (backend) => {
  test(`${ARRIVED} blocks voted on while the node was down are all decided once it starts`, async (t) => {
    const storage = await backend().fresh();
    const chain = await writeLongChain(storage, fates());
    const pending = await undecided(storage);
    assert.equal(pending.length, ARRIVED, 'stored voted on, not decided');

    const [node, second, third] = chain.voters;
    const bigchain = new Bigchain({
      storage,
      keyPair: node,
      keyring: [second.publicKey, third.publicKey],
    });
    const started = Date.now();
    const running = await BigchainNode.start(bigchain, {
      blockSize: 10,
      blockTimeoutMs: 50,
      reassignDelayMs: 60_000,
      verifyWorkers: 1,
    });
    let left = pending;
    try {
      while (left.length > 0 && Date.now() - started < DECIDE_WITHIN_MS) {
        await delay(200);
        left = await undecided(storage);
      }
    } finally {
      await running.stop();
    }
    assert.deepEqual(
      left,
      [],
      `${left.length} of ${ARRIVED} blocks still undecided after ${DECIDE_WITHIN_MS} ms, ` +
        `seqs ${left.slice(0, 5).join(', ')}${left.length > 5 ? ', …' : ''}`,
    );
    // Each as its votes decide: the two no-voted ones invalid, every other valid.
    const statuses = await storage.blockStatuses(chain.blocks.map((block) => block.id));
    const wrong = chain.blocks.filter((block, index) => {
      const fate = chain.fates[index];
      if (fate === undefined) return false;
      const expected = fate === 'pending-invalid' || fate === 'invalid' ? 'invalid' : 'valid';
      return statuses.get(block.id) !== expected;
    });
    assert.deepEqual(
      wrong.map((block) => block.id),
      [],
    );
    t.diagnostic(`decided ${ARRIVED} blocks in ${Date.now() - started} ms`);
  });
});
