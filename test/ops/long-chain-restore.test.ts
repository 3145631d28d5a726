import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { backup, BackupError, pruneAfterLastValidBlock, restore } from '../../src/ops/index.ts';
import type { Storage } from '../../src/storage/storage.ts';
import {
  federationFates,
  storedStatus,
  total,
  writeLongChain,
  type LongChain,
} from '../support/long-chain.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

/**
 * Restore, its status check and prune on a chain longer than any page they read, with the last valid
 * block past seq 1,000: where '999' > '1450' as text (issue 12: restore and prune ordered the seq as text
 * and deleted valid blocks; the status check paged by it and skipped blocks).
 */
const LAST_VALID = 1450;
const TAIL = 150;
const BLOCKS = LAST_VALID + TAIL;

async function backupText(storage: Storage): Promise<string> {
  let text = '';
  await backup(storage, (chunk) => (text += chunk));
  return text;
}

function linesOf(text: string): string[] {
  assert.ok(text.endsWith('\n'));
  return text.slice(0, -1).split('\n');
}

/** The stored blocks as `seq id status`, in insertion order. */
async function storedBlocks(storage: Storage): Promise<string[]> {
  const rows = await rawDriver(storage).query<{ seq: string; id: string; status: string }>(
    'SELECT b.seq::text AS seq, b.id, b.status FROM blocks b ORDER BY b.seq',
  );
  return rows.map((row) => `${row.seq} ${row.id} ${row.status}`);
}

/** What the chain's blocks of seq 1 … `through` should be stored as. */
function expectedBlocks(chain: LongChain, through: number): string[] {
  return chain.blocks.slice(0, through).map((block, index) => {
    const fate = chain.fates[index];
    return `${index + 1} ${block.id} ${fate === undefined ? 'undecided' : storedStatus(fate)}`;
  });
}

describeEachBackend(`a chain of ${BLOCKS} blocks, the last valid one at seq ${LAST_VALID}`, (backend) => {
  let source: Storage;
  let chain: LongChain;
  let text: string;
  before(async () => {
    source = await backend().fresh();
    chain = await writeLongChain(source, federationFates(LAST_VALID, TAIL));
    text = await backupText(source);
    assert.deepEqual(await source.counts(), {
      blocks: BLOCKS,
      transactions: BLOCKS,
      votes: total(chain.votes),
      backlog: chain.backlog,
    });
  });

  // Prune first: on the embedded backend the next fresh() database replaces this one.
  test('prune deletes exactly the blocks after the last valid one (seq 1450), their votes, rows and the backlog', async () => {
    const after = chain.blocks.slice(LAST_VALID);
    const droppedVotes = total(chain.votes.slice(LAST_VALID));
    const pruned = await pruneAfterLastValidBlock(source);
    assert.deepEqual(
      { ...pruned, blocks: pruned.blocks.length },
      {
        lastValidBlock: chain.blocks[LAST_VALID - 1]!.id,
        blocks: TAIL,
        votes: droppedVotes,
        transactions: TAIL,
        backlog: chain.backlog,
      },
    );
    assert.deepEqual(
      pruned.blocks,
      after.map((block) => block.id),
    );
    assert.deepEqual(await storedBlocks(source), expectedBlocks(chain, LAST_VALID));
    assert.deepEqual(await source.counts(), {
      blocks: LAST_VALID,
      transactions: LAST_VALID,
      votes: total(chain.votes) - droppedVotes,
      backlog: 0,
    });
  });

  test('backup → restore into an empty database keeps every valid block and drops only the blocks after the last valid one', async () => {
    const target = await backend().fresh();
    const summary = await restore(target, linesOf(text));
    const droppedVotes = total(chain.votes.slice(LAST_VALID));
    assert.deepEqual(summary, {
      blocks: BLOCKS,
      votes: total(chain.votes),
      droppedBlocks: TAIL,
      droppedVotes,
      keptTransactions: LAST_VALID,
      droppedTransactions: TAIL,
      lastValidBlock: chain.blocks[LAST_VALID - 1]!.id,
    });
    // Every block up to the last valid one, in order, with its status: the valid ones all among them.
    const stored = await storedBlocks(target);
    const validKept = stored.filter((line) => line.endsWith(' valid')).length;
    const validInChain = chain.fates.filter((fate) => fate === 'valid').length;
    assert.equal(validKept, validInChain, `kept ${validKept} of ${validInChain} valid blocks`);
    assert.equal(
      stored.length,
      LAST_VALID,
      `kept ${stored.length} of ${LAST_VALID} blocks up to the last valid one`,
    );
    assert.deepEqual(stored, expectedBlocks(chain, LAST_VALID));
    for (const seq of [9, 10, 99, 100, 999, 1000, LAST_VALID]) {
      assert.equal(stored[seq - 1], `${seq} ${chain.blocks[seq - 1]!.id} valid`, `seq ${seq}`);
    }
    assert.deepEqual(await target.counts(), {
      blocks: LAST_VALID,
      transactions: LAST_VALID,
      votes: total(chain.votes) - droppedVotes,
      backlog: 0,
    });
  });

  test('the restore status check reads every block, past its first page: a forged status is refused with its line', async () => {
    // The 700th and the 1,200th block (seq 700 and 1200, lines 701 and 1201) are valid with two yes votes.
    for (const seq of [700, 1200]) {
      assert.equal(chain.fates[seq - 1], 'valid');
      const lines = linesOf(text);
      const line = seq + 1;
      const block = JSON.parse(lines[line - 1]!) as { block: { id: string }; status: string };
      assert.equal(block.block.id, chain.blocks[seq - 1]!.id);
      lines[line - 1] = JSON.stringify({ ...block, status: 'invalid' });
      const target = await backend().fresh();
      await assert.rejects(restore(target, lines), (error: unknown) => {
        assert.ok(error instanceof BackupError, String(error));
        assert.equal(
          error.message,
          `backup line ${line}: block ${block.block.id} is marked invalid but its 2 votes decide valid`,
        );
        assert.equal(error.line, line);
        return true;
      });
      assert.equal(await target.isInitialized(), false, 'the refused restore left nothing behind');
    }
  });
});
