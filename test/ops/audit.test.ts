import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Block } from '../../src/protocol/block.ts';
import type { KeyPair } from '../../src/protocol/crypto.ts';
import type { Transaction } from '../../src/protocol/transaction.ts';
import { auditChain, formatProblem, type AuditProblem, type AuditProgress } from '../../src/ops/audit.ts';
import { Bigchain } from '../../src/node/bigchain.ts';
import { VerifyPool } from '../../src/node/verify-pool.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

interface Fixture {
  storage: Storage;
  a: Bigchain;
  b: Bigchain;
  genesis: string;
  /** owns `asset` */
  alice: KeyPair;
  asset: Transaction;
  transfer: Transaction;
  requeued: Transaction;
  /** valid: two CREATEs, one with payload {note: 'original'} */
  b1: Block;
  /** valid: the transfer of the asset */
  b2: Block;
  /** invalid (one no vote): `requeued` */
  b3: Block;
  /** undecided (one yes of two): `requeued` again, and a new CREATE */
  b4: Block;
  /** undecided: both yes, but over different previous blocks (the election says invalid, not final) */
  b5: Block;
}

/**
 * A two-node federation on one database: node a (the test chain's node, so its CREATEs are valid) creates
 * every block, a and b vote, and the statuses are recorded as the election would.
 */
async function populate(storage: Storage): Promise<Fixture> {
  const chain = new TestChain();
  const other: KeyPair = generateKeyPair();
  const a = new Bigchain({ storage, keyPair: chain.node, keyring: [other.publicKey] });
  const b = new Bigchain({ storage, keyPair: other, keyring: [chain.node.publicKey] });
  await a.createGenesisBlock();
  const genesis = await storage.genesisBlockId();
  const [alice, carol] = [generateKeyPair(), generateKeyPair()];
  const write = async (txs: Transaction[]) => {
    const block = a.createBlock(txs);
    await a.writeBlock(block);
    return block;
  };
  const vote = async (node: Bigchain, block: Block, previous: string, valid: boolean) =>
    assert.equal(await node.writeVote(node.vote(block.id, previous, valid)), true);

  const asset = chain.create(alice.publicKey, { note: 'original' });
  const b1 = await write([asset, chain.create(carol.publicKey)]);
  await vote(a, b1, genesis, true);
  await vote(b, b1, genesis, true);
  assert.equal(await storage.markBlockValid(b1.id), true);

  const transfer = chain.transfer(asset, alice, carol.publicKey);
  const b2 = await write([transfer]);
  await vote(a, b2, b1.id, true);
  await vote(b, b2, b1.id, true);
  assert.equal(await storage.markBlockValid(b2.id), true);

  const requeued = chain.create(carol.publicKey);
  const b3 = await write([requeued]);
  await vote(a, b3, b2.id, true);
  await vote(b, b3, b2.id, false);
  assert.equal((await storage.invalidateBlock(b3.id, [a.me])).decided, true);

  // Another transaction too, or b4 would be b3 again (same second, same body, same id).
  const b4 = await write([requeued, chain.create(alice.publicKey)]);
  await vote(a, b4, b3.id, true);

  const b5 = await write([chain.create(alice.publicKey)]);
  await vote(a, b5, b4.id, true);
  await vote(b, b5, b3.id, true);
  return { storage, a, b, genesis, alice, asset, transfer, requeued, b1, b2, b3, b4, b5 };
}

/** Each problem as "kind block voter txid", sorted: what the report names, without the wording. */
function named(problems: readonly AuditProblem[]): string[] {
  return problems.map((p) => [p.kind, p.blockId, p.voter ?? '-', p.txid ?? '-'].join(' ')).sort();
}

function expected(...entries: [AuditProblem['kind'], string, string?, string?][]): string[] {
  return entries
    .map(([kind, block, voter, txid]) => [kind, block, voter ?? '-', txid ?? '-'].join(' '))
    .sort();
}

describeEachBackend('auditChain (the stored chain re-verified)', (backend) => {
  test('a clean chain has no problems: genesis without votes, every status, a split vote left undecided', async () => {
    const f = await populate(await backend().fresh());
    const progress: AuditProgress[] = [];
    const report = await auditChain(f.storage, { batchSize: 2, onProgress: (done) => progress.push(done) });
    assert.deepEqual(report.problems, [], report.problems.map(formatProblem).join('\n'));
    assert.deepEqual(
      { blocks: report.blocks, votes: report.votes, transactions: report.transactions },
      { blocks: 6, votes: 9, transactions: 8 },
    );
    assert.equal(report.omittedProblems, 0);
    assert.deepEqual(
      progress.map((done) => done.blocks),
      [2, 4, 6, 6],
      'after every batch of blocks, then at the end',
    );
    assert.deepEqual(progress.at(-1), { blocks: 6, votes: 9, transactions: 8 });
  });

  test('a transaction payload edited inside a block: the block and the transaction are named', async () => {
    const f = await populate(await backend().fresh());
    await rawDriver(f.storage).query(
      `UPDATE blocks SET doc = replace(doc, '"note":"original"', '"note":"forged"') WHERE id = $1`,
      [f.b1.id],
    );
    const report = await auditChain(f.storage);
    assert.deepEqual(
      named(report.problems),
      expected(
        ['block', f.b1.id],
        ['transaction', f.b1.id, undefined, f.asset.id],
        ['transaction', f.b1.id, undefined, f.asset.id],
      ),
      report.problems.map(formatProblem).join('\n'),
    );
    const messages = report.problems.map((p) => p.message);
    assert.ok(
      messages.includes(
        'the id is not the hash of the block body: the block was changed after it was signed',
      ),
    );
    assert.ok(messages.some((m) => /^the id is not the hash of the transaction body/.test(m)));
    assert.ok(messages.includes("its transactions row differs from the block's copy in doc"));
  });

  test('a replaced block signature', async () => {
    const f = await populate(await backend().fresh());
    await rawDriver(f.storage).query('UPDATE blocks SET doc = replace(doc, $2, $3) WHERE id = $1', [
      f.b2.id,
      f.b2.signature,
      f.b1.signature,
    ]);
    const report = await auditChain(f.storage);
    assert.deepEqual(report.problems, [
      {
        kind: 'block',
        blockId: f.b2.id,
        message: `the signature does not verify with its node_pubkey ${f.a.me}`,
      },
    ]);
  });

  test("a vote's is_block_valid edited: the vote, and the valid status it no longer supports", async () => {
    const f = await populate(await backend().fresh());
    await rawDriver(f.storage).query(
      `UPDATE votes SET doc = replace(doc, '"is_block_valid":true', '"is_block_valid":false'), is_block_valid = false
       WHERE block_id = $1 AND voter = $2`,
      [f.b2.id, f.b.me],
    );
    const report = await auditChain(f.storage);
    assert.deepEqual(
      named(report.problems),
      expected(['vote', f.b2.id, f.b.me], ['status', f.b2.id]),
      report.problems.map(formatProblem).join('\n'),
    );
    const vote = report.problems.find((p) => p.kind === 'vote');
    assert.equal(vote?.message, 'the signature does not verify: the vote was changed after it was signed');
    const status = report.problems.find((p) => p.kind === 'status');
    assert.match(
      status?.message ?? '',
      /^stored valid, but its 2 stored votes \(1 verified yes, 2 voters\) decide invalid$/,
    );

    // The same edit to the document alone: the row's column no longer matches it either.
    const g = await populate(await backend().fresh());
    await rawDriver(g.storage).query(
      `UPDATE votes SET doc = replace(doc, '"is_block_valid":true', '"is_block_valid":false')
       WHERE block_id = $1 AND voter = $2`,
      [g.b1.id, g.a.me],
    );
    const second = await auditChain(g.storage);
    assert.deepEqual(
      named(second.problems),
      expected(['vote', g.b1.id, g.a.me], ['vote', g.b1.id, g.a.me], ['status', g.b1.id]),
    );
    assert.ok(
      second.problems.some((p) => p.message === "the row's is_block_valid disagrees with its document"),
    );
  });

  test('a status flipped to valid that its votes do not make valid, and one flipped to invalid', async () => {
    const f = await populate(await backend().fresh());
    await rawDriver(f.storage).query("UPDATE blocks SET status = 'valid' WHERE id = $1", [f.b4.id]);
    const report = await auditChain(f.storage);
    assert.deepEqual(report.problems, [
      {
        kind: 'status',
        blockId: f.b4.id,
        message: 'stored valid, but its 1 stored votes (1 verified yes, 2 voters) decide undecided',
      },
    ]);

    // And the other way: a valid block flipped to invalid, without clearing its rows' live flags. Its
    // outputs no longer count as in a valid block, so the transfer spending one is named too.
    const g = await populate(await backend().fresh());
    await rawDriver(g.storage).query("UPDATE blocks SET status = 'invalid' WHERE id = $1", [g.b1.id]);
    const flipped = await auditChain(g.storage);
    const [, second] = g.b1.block.transactions;
    assert.deepEqual(
      named(flipped.problems),
      expected(
        ['status', g.b1.id],
        ['transaction', g.b1.id, undefined, g.asset.id],
        ['transaction', g.b1.id, undefined, g.asset.id],
        ['transaction', g.b1.id, undefined, second?.id],
        ['transaction', g.b1.id, undefined, second?.id],
        ['transaction', g.b2.id, undefined, g.transfer.id],
      ),
      flipped.problems.map(formatProblem).join('\n'),
    );
    const messages = flipped.problems.map((p) => p.message);
    assert.ok(
      messages.includes('stored invalid, but its 2 stored votes (2 verified yes, 2 voters) decide valid'),
    );
    assert.ok(
      messages.includes(
        `its outputs row for output ${g.asset.id}:0 owned by ${g.alice.publicKey} is marked live, ` +
          'but the block is stored invalid',
      ),
    );
    assert.ok(messages.includes(`input \`${g.asset.id}\` does not exist in a valid block`));
  });

  test("a block's voters column edited: the election would count against it, so the audit names it", async () => {
    const f = await populate(await backend().fresh());
    await rawDriver(f.storage).query('UPDATE blocks SET voters = $1 WHERE id = $2', [
      JSON.stringify([f.a.me]),
      f.b4.id,
    ]);
    const report = await auditChain(f.storage);
    assert.deepEqual(report.problems, [
      { kind: 'block', blockId: f.b4.id, message: "the row's voters disagrees with its document" },
    ]);
  });

  test('a deleted spends row: the spending transaction and its block are named', async () => {
    const f = await populate(await backend().fresh());
    await rawDriver(f.storage).query('DELETE FROM spends WHERE spender = $1', [f.transfer.id]);
    const report = await auditChain(f.storage);
    assert.deepEqual(report.problems, [
      {
        kind: 'transaction',
        blockId: f.b2.id,
        txid: f.transfer.id,
        message: `its spends row for input ${f.asset.id}:0 is missing`,
      },
    ]);
  });

  test('a transaction in two valid blocks (statuses forced past the live index)', async () => {
    const f = await populate(await backend().fresh());
    await rawDriver(f.storage).query("UPDATE blocks SET status = 'valid' WHERE id = ANY($1::text[])", [
      [f.b3.id, f.b4.id],
    ]);
    const report = await auditChain(f.storage);
    assert.deepEqual(
      named(report.problems),
      expected(
        ['status', f.b3.id],
        ['status', f.b4.id],
        ['transaction', f.b3.id, undefined, f.requeued.id],
        ['transaction', f.b3.id, undefined, f.requeued.id],
        ['chain', f.b4.id, undefined, f.requeued.id],
      ),
      report.problems.map(formatProblem).join('\n'),
    );
    assert.ok(
      report.problems.some(
        (p) => p.message === 'its transactions row is marked not live, but the block is stored valid',
      ),
    );
    const chain = report.problems.find((p) => p.kind === 'chain');
    assert.equal(chain?.message, `the transaction is in 2 valid blocks: ${f.b3.id}, ${f.b4.id}`);
  });

  test('a deleted block leaves its votes and index rows behind, and they are named', async () => {
    const f = await populate(await backend().fresh());
    await rawDriver(f.storage).query('DELETE FROM blocks WHERE id = $1', [f.b5.id]);
    const report = await auditChain(f.storage);
    const [tx] = f.b5.block.transactions;
    assert.deepEqual(
      named(report.problems),
      expected(
        ['vote', f.b5.id, f.a.me],
        ['vote', f.b5.id, f.b.me],
        ['transaction', f.b5.id, undefined, tx?.id],
        ['transaction', f.b5.id, undefined, tx?.id],
      ),
    );
    assert.equal(report.votes, 9, 'votes on a missing block are counted too');
    assert.equal(report.blocks, 5);
  });

  test('a forged fulfillment is named when checked on the worker pool; maxProblems bounds the report', async () => {
    const f = await populate(await backend().fresh());
    const [, donor] = f.b1.block.transactions;
    const signature = f.transfer.transaction.fulfillments[0]?.fulfillment;
    const forged = donor?.transaction.fulfillments[0]?.fulfillment;
    assert.ok(signature && forged);
    await rawDriver(f.storage).query('UPDATE blocks SET doc = replace(doc, $2, $3) WHERE id = $1', [
      f.b2.id,
      signature,
      forged,
    ]);
    const pool = new VerifyPool(2);
    const seen: AuditProblem[] = [];
    try {
      const report = await auditChain(f.storage, { pool, maxProblems: 1, onProblem: (p) => seen.push(p) });
      assert.deepEqual(
        named(seen),
        expected(
          ['block', f.b2.id],
          ['transaction', f.b2.id, undefined, f.transfer.id],
          ['transaction', f.b2.id, undefined, f.transfer.id],
        ),
        seen.map(formatProblem).join('\n'),
      );
      assert.ok(seen.some((p) => /^fulfillment 0 /.test(p.message)));
      assert.deepEqual(report.problems, seen.slice(0, 1));
      assert.equal(report.omittedProblems, 2);
    } finally {
      await pool.close();
    }
  });
});
