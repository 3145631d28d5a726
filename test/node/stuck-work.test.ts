import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { BigchainDBError } from '../../src/protocol/errors.ts';
import { Bigchain } from '../../src/node/bigchain.ts';
import type { Logger } from '../../src/node/log.ts';
import { BigchainNode, type NodeOptions } from '../../src/node/node.ts';
import { SetAside } from '../../src/node/set-aside.ts';
import { Supervisor } from '../../src/node/supervisor.ts';
import ExplodingRules from '../fixtures/exploding-plugin.ts';
import { generateKeyPair, TestChain } from '../support/chain.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { describeEachBackend } from '../support/storage-backends.ts';
import { memoryLog } from '../support/memory-log.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Issue 12: a stage that fails the same way again and again is reported loudly (an ERROR once, a counter,
 * readiness false), and one block or transaction a stage cannot process does not hold up the rest.
 */

const errorLines = (lines: readonly string[]) => lines.filter((line) => line.includes(' ERROR '));

test('a stage failing again and again is stalled: one ERROR naming the block, health says so, until it runs again', async () => {
  const { log, lines } = memoryLog();
  const supervisor = new Supervisor(log, { healthyRunMs: 300 });
  let runs = 0;
  let fixed = false;
  let release: (() => void) | undefined;
  supervisor.start('election', () => ({
    name: 'election',
    run: async () => {
      runs++;
      if (!fixed) throw new BigchainDBError('cannot read the block', { blockId: 'b1' });
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    stop: async () => release?.(),
  }));
  try {
    await waitFor('five failures', async () => runs >= 5, { timeoutMs: 10_000 });
    const [stage] = supervisor.health();
    assert.equal(stage?.state, 'stalled');
    assert.equal(stage?.blockId, 'b1');
    assert.match(stage?.lastError ?? '', /cannot read the block/);
    assert.ok((stage?.failuresInARow ?? 0) >= 5);
    const errors = errorLines(lines);
    assert.equal(errors.length, 1, `one ERROR for the stall, not one per retry:\n${errors.join('\n')}`);
    assert.match(
      errors[0]!,
      /the election stage cannot make progress on block b1: it failed 3 times in a row/,
    );
    assert.equal(lines.filter((line) => line.includes(' WARN  election failed, restarting')).length, 2);

    fixed = true;
    await waitFor('the stage to be healthy again', async () => supervisor.health()[0]?.state === 'running', {
      timeoutMs: 15_000,
    });
    assert.equal(supervisor.health()[0]?.failuresInARow, 0);
    assert.ok(lines.some((line) => line.includes('INFO  the election stage runs again after')));
  } finally {
    fixed = true;
    await supervisor.stop();
  }
});

test('SetAside: a failure sets the item aside, reported once after reportAfter attempts; a success clears it', async () => {
  const { log, lines } = memoryLog();
  const items = new SetAside('vote', 'block', log, { reportAfter: 3, minRetryMs: 10, maxRetryMs: 40 });
  const fail = async () => {
    throw new TypeError('no such field');
  };
  assert.equal(await items.attempt('b1', fail), false);
  assert.equal(items.has('b1'), true);
  assert.deepEqual(items.due(), [], 'not due before its retry delay');
  assert.deepEqual(items.reported(), [], 'not reported after one failure');
  assert.equal(await items.attempt('b1', fail), false);
  assert.equal(await items.attempt('b1', fail), false);
  assert.equal(await items.attempt('b1', fail), false);
  const [reported] = items.reported();
  assert.equal(reported?.id, 'b1');
  assert.equal(reported?.attempts, 4);
  assert.equal(reported?.cause, 'TypeError: no such field');
  assert.equal(items.reportedTotal, 1);
  const errors = errorLines(lines);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /cannot process block b1: failed 3 times, last with TypeError: no such field/);
  await new Promise((resolve) => setTimeout(resolve, items.nextDueIn() + 5));
  assert.deepEqual(items.due(), ['b1']);
  assert.equal(await items.attempt('b1', async () => {}), true);
  assert.equal(items.has('b1'), false);
  assert.deepEqual(items.reported(), []);
  assert.ok(lines.some((line) => line.includes('INFO  block b1 processed after 4 failed attempts')));
});

test('SetAside: the database being unavailable is not the item’s fault: thrown, nothing set aside', async () => {
  const items = new SetAside('election', 'block', memoryLog().log);
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  await assert.rejects(
    items.attempt('b1', async () => {
      throw refused;
    }),
    refused,
  );
  assert.equal(items.has('b1'), false);
});

const FAST: NodeOptions = {
  blockSize: 10,
  blockTimeoutMs: 50,
  reassignDelayMs: 60_000,
  verifyWorkers: 1,
  setAside: { reportAfter: 3, minRetryMs: 50, maxRetryMs: 200 },
};

describeEachBackend('a node with work it cannot process', (backend) => {
  const running: BigchainNode[] = [];
  afterEach(async () => {
    ExplodingRules.broken = true;
    for (const node of running.splice(0)) await node.stop();
  });

  async function start(bigchain: Bigchain, log: Logger): Promise<BigchainNode> {
    const node = await BigchainNode.start(bigchain, { ...FAST, log });
    running.push(node);
    return node;
  }

  /** A fresh chain whose consensus plugin throws on payloads with `explode: true`. */
  async function explodingBigchain() {
    const storage = await backend().fresh();
    const chain = new TestChain();
    const bigchain = new Bigchain({
      storage,
      keyPair: chain.node,
      keyring: [],
      consensus: new ExplodingRules(),
    });
    return { chain, bigchain };
  }

  test('a transaction and a block the consensus plugin throws on are set aside; the rest is decided', async () => {
    const { chain, bigchain } = await explodingBigchain();
    const { log, lines } = memoryLog();
    const node = await start(bigchain, log);
    const alice = generateKeyPair().publicKey;

    // In the backlog: the block pipeline cannot validate it.
    const poison = chain.create(alice, { explode: true });
    const before = [chain.create(alice), chain.create(alice)];
    for (const tx of [...before, poison]) await bigchain.writeTransaction(tx);
    // In a block written by the node: the vote pipeline cannot check it.
    const poisonBlock = bigchain.createBlock([chain.create(alice, { explode: true, n: 2 })]);
    await bigchain.writeBlock(poisonBlock);
    const after = [chain.create(alice), chain.create(alice)];
    for (const tx of after) await bigchain.writeTransaction(tx);

    await waitFor('the other transactions to be valid', async () => {
      const statuses = await Promise.all([...before, ...after].map((tx) => bigchain.getStatus(tx.id)));
      return statuses.every((status) => status === 'valid');
    });
    await waitFor('both to be reported', async () => node.health().setAside.length === 2);
    const health = node.health();
    assert.equal(health.ready, false);
    assert.deepEqual(
      health.setAside
        .map(({ kind, id, stage }) => ({ kind, id, stage }))
        .sort((a, b) => a.kind.localeCompare(b.kind)),
      [
        { kind: 'block', id: poisonBlock.id, stage: 'vote' },
        { kind: 'transaction', id: poison.id, stage: 'block' },
      ],
    );
    assert.equal(await bigchain.getStatus(poison.id), 'backlog', 'left in the backlog, not lost');
    assert.equal(await bigchain.getStatus(poisonBlock.block.transactions[0]!.id), 'undecided');
    const errors = errorLines(lines);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.ok(errors.some((line) => line.includes(`cannot process transaction ${poison.id}`)));
    assert.ok(errors.some((line) => line.includes(`cannot process block ${poisonBlock.id}`)));
    assert.ok(
      health.stages.every((stage) => stage.state === 'running'),
      'no stage restarted for them',
    );

    // The plugin fixed (a new release): the retries go through.
    ExplodingRules.broken = false;
    await waitFor('the set-aside work to be done', async () => {
      const statuses = await Promise.all([
        bigchain.getStatus(poison.id),
        bigchain.getStatus(poisonBlock.block.transactions[0]!.id),
      ]);
      return statuses.every((status) => status === 'valid');
    });
    await waitFor('the node to be ready', async () => node.health().ready);
    assert.equal(node.health().setAsideTotal, 2);
    assert.equal(errorLines(lines).length, 2, 'no further ERROR lines');
  });

  test('a block whose decision the database refuses is set aside; the blocks after it are decided', async () => {
    const storage = await backend().fresh();
    const chain = new TestChain();
    const bigchain = new Bigchain({ storage, keyPair: chain.node, keyring: [] });
    await bigchain.createGenesisBlock();
    const alice = generateKeyPair().publicKey;
    const refused = bigchain.createBlock([chain.create(alice)]);
    await bigchain.writeBlock(refused);
    // A real PostgreSQL error for this block only, as a stored document the database cannot process gave.
    await rawDriver(storage).query(
      `CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
    );
    await rawDriver(storage).query(
      `CREATE TRIGGER refuse_update BEFORE UPDATE ON blocks FOR EACH ROW
       WHEN (OLD.id = '${refused.id}') EXECUTE FUNCTION refuse_update()`,
    );
    const { log, lines } = memoryLog();
    const node = await start(bigchain, log);
    const later = [chain.create(alice), chain.create(alice)];
    for (const tx of later) await bigchain.writeTransaction(tx);
    await waitFor('the later transactions to be valid', async () => {
      const statuses = await Promise.all(later.map((tx) => bigchain.getStatus(tx.id)));
      return statuses.every((status) => status === 'valid');
    });
    await waitFor('the refused block to be reported', async () => node.health().setAside.length === 1);
    const [item] = node.health().setAside;
    assert.equal(item?.id, refused.id);
    assert.equal(item?.stage, 'election');
    assert.match(item?.cause ?? '', /refused by the test/);
    assert.equal(errorLines(lines).length, 1);
    assert.equal((await storage.blockStatuses([refused.id])).get(refused.id), 'undecided');

    await rawDriver(storage).query('DROP TRIGGER refuse_update ON blocks');
    await waitFor('the refused block to be decided', async () => {
      return (await storage.blockStatuses([refused.id])).get(refused.id) === 'valid';
    });
    await waitFor('the node to be ready', async () => node.health().ready);
  });

  test('readiness (GET /readyz): a stage that keeps failing makes the node not ready, naming it; ready again once it runs', async () => {
    const { chain, bigchain } = await explodingBigchain();
    const node = await start(bigchain, memoryLog().log);
    assert.deepEqual(await node.readiness(), {
      ready: true,
      checks: [
        { name: 'database', ok: true },
        { name: 'pipelines', ok: true },
        { name: 'signature workers', ok: true },
      ],
    });
    // Alone in its batch, a transaction the plugin throws on fails the block stage itself.
    await bigchain.writeTransaction(chain.create(generateKeyPair().publicKey, { explode: true }));
    const failing = await waitFor('the block stage to fail', async () => {
      const readiness = await node.readiness();
      return !readiness.ready && readiness;
    });
    assert.deepEqual(
      failing.checks.map((check) => [check.name, check.ok]),
      [
        ['database', true],
        ['pipelines', false],
        ['signature workers', true],
      ],
    );
    assert.match(
      failing.checks[1]!.reason!,
      /^block (restarting|stalled) \(TypeError: the plugin cannot read this payload\)$/,
    );
    ExplodingRules.broken = false;
    // A restarted stage counts as running again once it ran 10 s without failing (HEALTHY_RUN_MS).
    await waitFor('the node to be ready again', async () => (await node.readiness()).ready, {
      timeoutMs: 30_000,
    });
  });
});
