import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PGliteDriver } from '../../src/storage/pglite-driver.ts';
import { waitFor } from '../support/wait.ts';

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

/** The whole /proc/PID/stat line, or '' once the process is gone. */
function procStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}

/** The first line `child` writes on stdout. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text.split('\n')[0]!);
    });
    child.once('error', reject);
  });
}

test(
  'a lock left by a zombie (exited, not yet reaped) is taken over; a live holder named like `x) Z (y` keeps it',
  { skip: !existsSync('/proc/self/stat') && 'no /proc' },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bigchain-lock-'));
    // `sleep 0.1` is a child of the shell, which then becomes `sleep 30`: a parent that never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const sameName = join(dir, 'x) Z (y');
    await symlink(spawnSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).stdout.trim(), sameName);
    const live = spawn(sameName, ['30'], { stdio: 'ignore' });
    try {
      const zombie = Number(await firstLine(parent));
      await waitFor(`process ${zombie} to be a zombie`, async () => / Z \d+ /.test(procStat(zombie)), {
        timeoutMs: 10_000,
      });
      assert.match(procStat(zombie), new RegExp(`^${zombie} \\(sleep\\) Z ${parent.pid} `));
      await writeFile(join(dir, 'bigchaindb.lock'), String(zombie));
      const taken = await PGliteDriver.open(dir);
      assert.equal(await readFile(join(dir, 'bigchaindb.lock'), 'utf8'), String(process.pid));
      await taken.close();

      // The state is the field after the LAST ')': this one is alive (S), whatever its name says.
      await waitFor('the live process to run as `x) Z (y`', async () =>
        procStat(live.pid!).startsWith(`${live.pid} (x) Z (y) `),
      );
      assert.match(procStat(live.pid!), /^\d+ \(x\) Z \(y\) [RS] /);
      await writeFile(join(dir, 'bigchaindb.lock'), String(live.pid));
      await assert.rejects(PGliteDriver.open(dir), new RegExp(`is in use by process ${live.pid} `));
    } finally {
      parent.kill('SIGKILL');
      live.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  },
);
