import assert from 'node:assert/strict';
import { rename, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_DATABASE_CONFIG, openStorage } from '../../src/storage/open.ts';
import { PGliteDriver } from '../../src/storage/pglite-driver.ts';
import { Storage } from '../../src/storage/storage.ts';
import { federationFates, writeLongChain, type LongChain } from '../support/long-chain.ts';
import { runCli } from '../support/processes.ts';

/** The chain's last valid block; three undecided or invalid blocks follow it. */
const LAST_VALID = 1_000;
const TAIL = 3;

/**
 * A node upgraded from the release whose embedded engine was PGlite finds its chain in a directory the
 * embedded PostgreSQL server cannot run: it is told how to move it, and the way it is told works.
 */
describe('moving a chain from a PGlite data directory to the embedded PostgreSQL server', () => {
  let home: string;
  let data: string;
  let chain: LongChain;
  const env = () => ({ HOME: home, BIGCHAINDB_CONFIG_PATH: join(home, 'node.json') });

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-pglite-move-'));
    data = join(home, 'data');
    const legacy = new Storage(await PGliteDriver.open(data), data);
    await legacy.upgrade();
    chain = await writeLongChain(legacy, federationFates(LAST_VALID, TAIL));
    await legacy.close();
    const [node, second, third] = chain.voters;
    await writeFile(
      join(home, 'node.json'),
      JSON.stringify({
        keypair: { public: node.publicKey, private: node.privateKey },
        keyring: [second.publicKey, third.publicKey],
        database: { path: data },
      }),
    );
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('start refuses, backup reads the old directory, restore fills the new server, verify passes', async () => {
    const refused = await runCli(['start'], env());
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /holds a database of the earlier embedded engine \(PGlite/);

    const file = join(home, 'chain.ndjson');
    const backup = await runCli(['backup', file], env());
    assert.equal(backup.code, 0, backup.stderr);
    const votes = chain.votes.reduce((sum, count) => sum + count, 0);
    assert.equal(backup.stderr, `Backed up ${chain.blocks.length} blocks and ${votes} votes to ${file}.\n`);

    await rename(data, `${data}.pglite`);
    const restore = await runCli(['restore', file], env());
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(
      restore.stdout,
      new RegExp(
        `^Restored ${chain.blocks.length} blocks and ${votes} votes into the embedded database in ${data}\\.\n`,
      ),
    );
    assert.match(restore.stdout, new RegExp(`dropped ${TAIL} blocks after it`));

    const verify = await runCli(['verify'], env());
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, new RegExp(`^Verified ${chain.blocks.length - TAIL} blocks`));

    // The blocks are the same blocks, in the same order, on the embedded server.
    const moved = await openStorage({ ...DEFAULT_DATABASE_CONFIG, path: data });
    try {
      const kept = chain.blocks.slice(0, chain.blocks.length - TAIL);
      for (const index of [0, 1, 500, kept.length - 1]) {
        const block = kept[index]!;
        const stored = await moved.getBlock(block.id);
        assert.deepEqual(stored?.block, block, `block ${index + 1}`);
        assert.equal(stored.seq, String(index + 1));
      }
      assert.equal(await moved.getBlock(chain.blocks.at(-1)!.id), undefined, 'the tail was dropped');
    } finally {
      await moved.close();
    }
  });
});
