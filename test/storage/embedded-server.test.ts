import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EmbeddedServer } from '../../src/storage/embedded-server.ts';
import { DEFAULT_DATABASE_CONFIG, openStorage, type DatabaseConfig } from '../../src/storage/open.ts';
import { TestChain } from '../support/chain.ts';

const embedded = (path: string, password?: string): DatabaseConfig => ({
  ...DEFAULT_DATABASE_CONFIG,
  path,
  ...(password === undefined ? {} : { password }),
});

describe('the embedded PostgreSQL server', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'bigchain-embedded-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('a command starts it for itself and stops it when done; one already running is shared, not stopped', async () => {
    const path = join(home, 'shared');
    const states: EmbeddedServer['state'][] = [];
    const onEmbeddedServer = (server: EmbeddedServer) => states.push(server.state);
    const first = await openStorage(embedded(path), { create: true, onEmbeddedServer });
    const { genesis } = new TestChain();
    await first.init(genesis);
    const second = await openStorage(embedded(path), { onEmbeddedServer });
    assert.deepEqual(states, ['created', 'shared']);
    await second.close();
    assert.equal((await first.getBlock(genesis.id))?.block.id, genesis.id, 'still answering');
    await first.close();
    assert.equal(existsSync(join(path, 'pgdata', 'postmaster.pid')), false, 'stopped by its owner');
    assert.equal(existsSync(join(path, 'owner')), false);

    const again = await openStorage(embedded(path), { onEmbeddedServer });
    await again.close();
    assert.deepEqual(states, ['created', 'shared', 'started']);
  });

  test('without create, a directory that does not exist is reported, not made', async () => {
    const path = join(home, 'never-made');
    await assert.rejects(
      openStorage(embedded(path)),
      /does not exist or is not initialized; run `bigchaindb init`/,
    );
    assert.equal(existsSync(path), false);
  });

  test('the password set when the cluster was made is required', async () => {
    const path = join(home, 'guarded');
    const made = await openStorage(embedded(path, 'right-password'), { create: true });
    await made.close();
    const reopened = await openStorage(embedded(path, 'right-password'));
    await reopened.close();
    await assert.rejects(openStorage(embedded(path, 'wrong-password')), /password authentication failed/);
    await assert.rejects(openStorage(embedded(path)), /password/);
    assert.equal(
      existsSync(join(path, 'pgdata', 'postmaster.pid')),
      false,
      'a failed open stops what it started',
    );
  });

  test('a data directory whose socket path would be too long for Unix sockets is refused', async () => {
    const path = join(home, 'x'.repeat(120));
    await assert.rejects(
      openStorage(embedded(path), { create: true }),
      /database\.path .* is too long: the server's socket .*\.s\.PGSQL\.5432 would exceed the 107 bytes a Unix socket path may have/,
    );
  });

  test('memory://: a throwaway server in a temp dir, removed when the storage closes', async () => {
    let dir = '';
    const storage = await openStorage(embedded('memory://'), {
      onEmbeddedServer: (server) => (dir = server.socketDir),
    });
    assert.ok(existsSync(join(dir, 'pgdata', 'postmaster.pid')));
    assert.equal(storage.name, 'memory://');
    await storage.close();
    assert.equal(existsSync(dir), false);
  });
});
