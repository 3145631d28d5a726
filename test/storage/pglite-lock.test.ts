import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PGliteDriver } from '../../src/storage/pglite-driver.ts';

test('one process at a time opens an embedded data directory; a stale lock is taken over', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bigchain-lock-'));
  try {
    const first = await PGliteDriver.open(dir);
    await assert.rejects(
      PGliteDriver.open(dir),
      new RegExp(
        `is in use by process ${process.pid} \\(a running node\\?\\)\\. Only one process can open it`,
      ),
    );
    await first.close();
    assert.equal(existsSync(join(dir, 'bigchaindb.lock')), false);

    // A lock left by a process that has exited, as after a crash.
    const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    await writeFile(join(dir, 'bigchaindb.lock'), exited.stdout);
    const second = await PGliteDriver.open(dir);
    assert.deepEqual(await second.query('SELECT 1 AS one'), [{ one: 1 }]);
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
