import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Bigchain } from '../../src/node/bigchain.ts';
import { generateKeyPair } from '../../src/protocol/crypto.ts';
import { createAndSignTx, getHashData } from '../../src/protocol/transaction.ts';
import { DEFAULT_DATABASE_CONFIG, openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { runCli } from '../support/processes.ts';
import { rawDriver } from '../support/raw-sql.ts';

describe('bigchaindb verify', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let data: string;
  const node = generateKeyPair();

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-verify-'));
    env = { HOME: home };
    data = join(home, 'data');
    const config = {
      keypair: { public: node.publicKey, private: node.privateKey },
      database: { path: data },
    };
    await writeFile(join(home, '.bigchaindb'), JSON.stringify(config));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  /** The embedded database, opened in this process while no command runs (one process at a time). */
  async function withDatabase(work: (storage: Storage) => Promise<void>): Promise<void> {
    const storage = await openStorage({ ...DEFAULT_DATABASE_CONFIG, path: data });
    try {
      await work(storage);
    } finally {
      await storage.close();
    }
  }

  test('exit 0 on a clean chain; exit 1 naming the block and transaction once one was tampered with', async () => {
    assert.equal((await runCli(['init'], env)).code, 0);
    const alice = generateKeyPair();
    const tx = createAndSignTx(node.privateKey, node.publicKey, alice.publicKey, null, 'CREATE', {
      payload: { note: 'original' },
    });
    let blockId = '';
    await withDatabase(async (storage) => {
      const b = new Bigchain({ storage, keyPair: node });
      const block = b.createBlock([tx]);
      await b.writeBlock(block);
      assert.equal(await b.writeVote(b.vote(block.id, await storage.genesisBlockId(), true)), true);
      assert.equal(await storage.markBlockValid(block.id), true);
      blockId = block.id;
    });

    const clean = await runCli(['verify'], env);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stdout, 'Verified 2 blocks, 1 votes and 2 transactions: no problems found.\n');
    assert.equal(clean.stderr, '');

    await withDatabase(async (storage) => {
      await rawDriver(storage).query(
        `UPDATE blocks SET doc = replace(doc, '"note":"original"', '"note":"forged"') WHERE id = $1`,
        [blockId],
      );
    });
    const edited = structuredClone(tx);
    edited.transaction.data.payload = { note: 'forged' };
    const tampered = await runCli(['verify'], env);
    assert.equal(tampered.code, 1);
    const lines = tampered.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, -1).sort(), [
      `block: block ${blockId}: the id is not the hash of the block body: the block was changed after it was signed`,
      `transaction: block ${blockId}: transaction ${tx.id}: its transactions row differs from the block's copy in doc`,
      `transaction: block ${blockId}: transaction ${tx.id}: the id is not the hash of the transaction body ` +
        `(${getHashData(edited)}): it was changed after it was made`,
    ]);
    assert.equal(lines.at(-1), 'Verified 2 blocks, 1 votes and 2 transactions: 3 problems found.');
    assert.equal(
      tampered.stderr,
      'bigchaindb: the stored chain failed verification: 3 problems found (listed on stdout)\n',
    );
  });

  test('usage: no arguments; listed in the help', async () => {
    const extra = await runCli(['verify', 'now'], env);
    assert.equal(extra.code, 2);
    assert.equal(
      extra.stderr,
      'bigchaindb: verify takes no arguments\n\nusage: bigchaindb verify\n' +
        '(`bigchaindb verify --help` describes its arguments and options)\n',
    );
    const help = await runCli(['--help'], env);
    assert.match(
      help.stdout,
      /^ {2}verify {12}Re-verify every stored block, vote and transaction; report any that was tampered with$/m,
    );
  });
});
