import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Bigchain } from '../../src/node/bigchain.ts';
import { generateKeyPair, type KeyPair } from '../../src/protocol/crypto.ts';
import { openStorage } from '../../src/storage/open.ts';
import { IN_MEMORY_PATH } from '../../src/storage/embedded-server.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { atLevel } from '../support/log-records.ts';
import { runCli, type ProcessResult } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const [a, b, c, d] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()] as [
  KeyPair,
  KeyPair,
  KeyPair,
  KeyPair,
];

describe('Bigchain.checkIdentity: whether this node belongs to the chain in its database', () => {
  let storage: Storage;
  before(async () => {
    storage = await openStorage({
      backend: 'embedded',
      path: IN_MEMORY_PATH,
      host: '',
      port: 0,
      name: 'bigchain',
    });
  });
  after(async () => {
    await storage.close();
  });
  const node = (keyPair: KeyPair, keyring: KeyPair[]) =>
    new Bigchain({ storage, keyPair, keyring: keyring.map((key) => key.publicKey) });

  test('no chain yet: nothing to compare', async () => {
    assert.equal(await node(c, []).checkIdentity(), undefined);
  });

  test('the genesis node, and another node of the same federation (any order): no mismatch', async () => {
    const genesis = await node(a, [b]).createGenesisBlock();
    assert.deepEqual(genesis.block.voters, [b.publicKey, a.publicKey]);
    assert.equal(await node(a, [b]).checkIdentity(), undefined);
    assert.equal(await node(b, [a]).checkIdentity(), undefined, 'B, with A in its keyring');
    assert.equal(await node(a, [b, a]).checkIdentity(), undefined, 'its own key in the keyring too');
  });

  test('a stranger: the creator unknown, the genesis federation missing, itself extra', async () => {
    const genesisBlock = await storage.genesisBlockId();
    assert.deepEqual(await node(c, []).checkIdentity(), {
      genesisBlock,
      genesisCreator: a.publicKey,
      genesisFederation: [b.publicKey, a.publicKey],
      me: c.publicKey,
      federation: [c.publicKey],
      creatorKnown: false,
      missing: [b.publicKey, a.publicKey],
      extra: [c.publicKey],
    });
  });

  test('a federation that differs: keys missing or extra, the creator known or not', async () => {
    const lone = await node(a, []).checkIdentity();
    assert.equal(lone?.creatorKnown, true);
    assert.deepEqual([lone?.missing, lone?.extra], [[b.publicKey], []]);

    const grown = await node(a, [b, d]).checkIdentity();
    assert.equal(grown?.creatorKnown, true);
    assert.deepEqual([grown?.missing, grown?.extra], [[], [d.publicKey]]);

    const withoutCreator = await node(b, []).checkIdentity();
    assert.equal(withoutCreator?.creatorKnown, false);
    assert.deepEqual([withoutCreator?.missing, withoutCreator?.extra], [[a.publicKey], []]);
  });
});

/** A start that should refuse at once but runs instead is stopped after this, and fails its test. */
const TIMEOUT_MS = 60_000;

/** `bigchaindb ARGS start`: waits until the node runs, then stops it with SIGTERM. */
function startAndStop(args: string[], env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return runCli(args, env, {
    whileRunning: async ({ child, stderr }) => {
      await waitFor('the node to start', async () => {
        if (child.exitCode !== null) throw new Error(`exited early (${child.exitCode}): ${stderr()}`);
        return stderr().includes('Starting BigchainDB main process');
      });
      child.kill('SIGTERM');
    },
  });
}

describe('bigchaindb start and init on a chain this node does not belong to', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  /** the database node A initialized, alone */
  let data: string;
  const config = async (name: string, keyPair: KeyPair, keyring: KeyPair[], database: string) => {
    const path = join(home, name);
    const settings = {
      keypair: { public: keyPair.publicKey, private: keyPair.privateKey },
      keyring: keyring.map((key) => key.publicKey),
      database: { path: database },
      server: { bind: '127.0.0.1:0' },
      block_timeout: 0.1,
    };
    await writeFile(path, JSON.stringify(settings));
    return path;
  };

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-identity-'));
    env = { HOME: home };
    data = join(home, 'data-a');
    const init = await runCli(['-c', await config('a.json', a, [], data), 'init'], env);
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('another keypair: start and init refuse (exit 1) naming both keys and what to do', async () => {
    const other = await config('b.json', b, [], data);
    for (const command of ['init', 'start']) {
      const result = await runCli(['-c', other, command], env, { timeoutMs: TIMEOUT_MS });
      assert.equal(result.code, 1, result.stderr);
      const message = result.stderr.slice(result.stderr.indexOf('bigchaindb: '));
      assert.match(
        message,
        new RegExp(
          `^bigchaindb: refusing to ${command} on the embedded database in ${data}: it holds the chain of another node or federation`,
        ),
      );
      assert.match(message, new RegExp(`^ {2}this node: +${b.publicKey}$`, 'm'));
      assert.match(
        message,
        new RegExp(
          `^ {2}genesis block: +[0-9a-f]{64}, made by ${a.publicKey}, which is neither this node's key nor in its keyring$`,
          'm',
        ),
      );
      assert.match(message, new RegExp(`^ {2}missing here: +${a.publicKey} `, 'm'));
      assert.match(message, new RegExp(`^ {2}extra here: +${b.publicKey} `, 'm'));
      assert.match(
        message,
        new RegExp(
          `Use the configuration \\(keypair and keyring\\) this database belongs to \\(-c PATH\\), or, if the federation really changed, run \`bigchaindb -c ${other} ${command} --accept-federation-change\`\\.\\n$`,
        ),
      );
      assert.doesNotMatch(result.stderr, /Starting BigchainDB main process|Listening/);
    }

    // With the flag they go ahead, saying what differs.
    const init = await runCli(['-c', other, 'init', '--accept-federation-change'], env);
    assert.equal(init.code, 0, init.stderr);
    assert.match(
      init.stderr,
      new RegExp(
        `^bigchaindb: warning: --accept-federation-change: going ahead on the embedded database in ${data}, ` +
          `whose genesis block was made by another node or for another federation:\\n {2}this node: +${b.publicKey}\\n`,
      ),
    );
    assert.match(
      init.stderr,
      /\nThe database already exists\.\nIf you wish to re-initialize it, first drop it\.\n$/,
    );
    const start = await startAndStop(['-c', other, 'start', '--accept-federation-change'], env);
    assert.equal(start.code, 0, start.stderr);
    const [warning, ...more] = atLevel(start.stderr.split('\n'), 'warn');
    assert.equal(more.length, 0);
    assert.match(warning!.msg, /^--accept-federation-change: going ahead on the embedded database/);
    assert.match(warning!.msg, new RegExp(`made by ${a.publicKey}, which is neither this node's key`));
    assert.match(start.stderr, new RegExp(`node ${b.publicKey} on the embedded database`));
  });

  test('the same keypair with another federation: refused, naming the extra and the missing keys', async () => {
    const grown = await config('a-grown.json', a, [c], data);
    const result = await runCli(['-c', grown, 'start'], env, { timeoutMs: TIMEOUT_MS });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`^ {2}genesis block: +[0-9a-f]{64}, made by ${a.publicKey} \\(this node\\)$`, 'm'),
    );
    assert.match(
      result.stderr,
      new RegExp(
        `^ {2}extra here: +${c.publicKey} \\(in this node's federation, not in the genesis federation\\)$`,
        'm',
      ),
    );
    assert.doesNotMatch(result.stderr, /missing here/);
    assert.match(result.stderr, /run `bigchaindb -c .*a-grown\.json start --accept-federation-change`/);
  });

  test('node B of a federation on the database node A initialized, each in the other’s keyring: starts', async () => {
    const shared = join(home, 'data-ab');
    const init = await runCli(['-c', await config('a-fed.json', a, [b], shared), 'init'], env);
    assert.equal(init.code, 0, init.stderr);
    const start = await startAndStop(['-c', await config('b-fed.json', b, [a], shared), 'start'], env);
    assert.equal(start.code, 0, start.stderr);
    assert.deepEqual(atLevel(start.stderr.split('\n'), 'warn'), []);
    assert.doesNotMatch(start.stderr, /refusing/);
    assert.match(start.stderr, new RegExp(`node ${b.publicKey} on the embedded database in ${shared}`));
    assert.match(start.stderr, /Federation of 2 nodes/);
  });
});
