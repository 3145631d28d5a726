import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { insertColumns, MAX_PARAMETERS } from '../../src/storage/queries/shared.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { rawDriver } from '../support/raw-sql.ts';
import { startBackend, type StorageBackend } from '../support/storage-backends.ts';

describe('insertColumns: rows as parallel columns, one parameter per value, split at the parameter limit', () => {
  let backend: StorageBackend;
  let storage: Storage;
  before(async () => {
    backend = await startBackend();
    storage = await backend.fresh();
    await rawDriver(storage).exec('CREATE TABLE items (id int PRIMARY KEY, name text, flag boolean)');
  });
  after(() => backend.close());

  test('statements of at most maxParameters values; RETURNING of all of them in order; conflicts skipped', async () => {
    const session = rawDriver(storage);
    const ids = [1, 2, 3, 4, 5, 3];
    const names = ['a', 'b "quoted" \\ {braces}', null, 'd', 'e', 'again'];
    const flags = [true, false, true, null, false, true];
    // 3 columns, at most 7 values a statement: 2 rows each, so 3 statements.
    const returned = await insertColumns<{ id: number }>(
      session,
      'items (id, name, flag)',
      [ids, names, flags],
      'ON CONFLICT DO NOTHING RETURNING id',
      7,
    );
    assert.deepEqual(
      returned.map((row) => row.id),
      [1, 2, 3, 4, 5],
      'the second 3 conflicts with the first',
    );
    assert.deepEqual(await session.query('SELECT id, name, flag FROM items ORDER BY id'), [
      { id: 1, name: 'a', flag: true },
      { id: 2, name: 'b "quoted" \\ {braces}', flag: false },
      { id: 3, name: null, flag: true },
      { id: 4, name: 'd', flag: null },
      { id: 5, name: 'e', flag: false },
    ]);
  });

  test('more rows than one statement may carry at the real limit', async () => {
    const session = rawDriver(storage);
    const count = MAX_PARAMETERS + 10;
    const ids = Array.from({ length: count }, (_, i) => 1000 + i);
    const returned = await insertColumns(session, 'items (id)', [ids], 'RETURNING 1');
    assert.equal(returned.length, count);
    const [counted] = await session.query<{ rows: string }>(
      'SELECT count(*)::text AS rows FROM items WHERE id >= 1000',
    );
    assert.equal(Number(counted?.rows), count);
  });

  test('no rows: no statement', async () => {
    assert.deepEqual(await insertColumns(rawDriver(storage), 'nowhere (id)', [[]], ''), []);
  });
});
