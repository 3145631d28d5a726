import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { backup } from '../../src/ops/index.ts';
import { federationFates, total, writeLongChain, type LongChain } from '../support/long-chain.ts';
import { runCli } from '../support/processes.ts';
import { nodeDatabase } from '../support/postgres.ts';
import { describeEachBackend } from '../support/storage-backends.ts';

/**
 * `bigchaindb restore` of a 1,600-block backup whose last valid block has seq 1450, run as the real binary
 * with a configuration in a temporary HOME; then `verify` (and `prune`, which has nothing left to do).
 * Issue 12: restore ordered the seq as text, took seq 999 for the last valid block and deleted the valid
 * blocks after it, and its output did not say how many transactions it kept and dropped.
 */
const LAST_VALID = 1450;
const TAIL = 150;
const BLOCKS = LAST_VALID + TAIL;
const CLI_TIMEOUT_MS = 120_000;

describeEachBackend('bigchaindb restore of a long chain', (backend) => {
  let home: string;
  let file: string;
  let env: NodeJS.ProcessEnv;
  let chain: LongChain;
  let label: string;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-restore-'));
    file = join(home, 'node.ndjson');
    const source = await backend().fresh();
    chain = await writeLongChain(source, federationFates(LAST_VALID, TAIL));
    const out = createWriteStream(file);
    await backup(source, out);
    out.end();
    await finished(out);
    const [node, second, third] = chain.voters;
    const server = backend().server;
    const database =
      server === undefined
        ? { backend: 'embedded', path: join(home, 'data') }
        : nodeDatabase(server, 'restored');
    label =
      server === undefined
        ? `embedded database in ${join(home, 'data')}`
        : `PostgreSQL database \`restored\` on ${server.host}:${server.port}`;
    const config = {
      keypair: { public: node.publicKey, private: node.privateKey },
      keyring: [second.publicKey, third.publicKey],
      database,
    };
    await writeFile(join(home, '.bigchaindb'), JSON.stringify(config));
    env = { HOME: home };
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test(`restore prints what it kept and dropped: ${LAST_VALID} blocks kept, ${TAIL} dropped; verify is clean`, async () => {
    const votes = total(chain.votes);
    const droppedVotes = total(chain.votes.slice(LAST_VALID));
    const lastValid = chain.blocks[LAST_VALID - 1]!.id;
    const restored = await runCli(['restore', file], env, { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(
      restored.stdout,
      `Restored ${BLOCKS} blocks and ${votes} votes into the ${label}.\n` +
        `Kept ${LAST_VALID} blocks, ${LAST_VALID} transactions and ${votes - droppedVotes} votes; ` +
        `dropped ${TAIL} blocks, ${TAIL} transactions and ${droppedVotes} votes.\n` +
        `Kept everything up to the last valid block ${lastValid}; dropped ${TAIL} blocks after it and their ` +
        `${droppedVotes} votes; the backlog is empty.\n`,
    );

    const verified = await runCli(['verify'], env, { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.equal(
      verified.stdout,
      `Verified ${LAST_VALID} blocks, ${votes - droppedVotes} votes and ${LAST_VALID} transactions: no problems found.\n`,
    );

    // The rule was applied: prune finds nothing after the last valid block.
    const pruned = await runCli(['prune'], env, { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.equal(
      pruned.stdout,
      `Kept everything up to the last valid block ${lastValid}; deleted 0 blocks after it, 0 votes on them and ` +
        '0 backlog entries; rebuilt the indexes. The deleted blocks held 0 transactions.\n',
    );
  });
});
