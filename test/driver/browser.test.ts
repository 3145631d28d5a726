import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import packagedChromium from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';
import { bundleForBrowser } from '../support/browser-bundle.ts';
import { startLoneNode, type NodeProcess } from '../support/node-process.ts';

/**
 * The Chromium that the npm package @sparticuz/chromium ships (unpacked into the temp dir on first use), so
 * the test needs nothing installed; CHROMIUM_PATH runs another one instead.
 */
async function launchChromium(): Promise<Browser> {
  const own = process.env.CHROMIUM_PATH;
  return own === undefined
    ? chromium.launch({
        executablePath: await packagedChromium.executablePath(),
        args: packagedChromium.args,
      })
    : chromium.launch({ executablePath: own, args: ['--no-sandbox'] });
}

/** `bigchaindb/driver` bundled as a browser app would bundle it. */
const bundleDriver = () => bundleForBrowser('src/driver/index.ts');

describe('bigchaindb/driver in a browser', () => {
  let bundle: { code: string; inputs: string[] };

  before(async () => {
    bundle = await bundleDriver();
  });

  test('the browser bundle has no node: import and uses the pure-JS crypto', () => {
    assert.doesNotMatch(bundle.code, /\bfrom\s*["']node:|\bimport\(\s*["']node:|\brequire\(\s*["']node:/);
    assert.doesNotMatch(bundle.code, /["']node:[a-z_/]+["']/);
    assert.ok(bundle.inputs.includes('src/protocol/crypto-noble.ts'), bundle.inputs.join('\n'));
    assert.ok(!bundle.inputs.includes('src/protocol/crypto-node.ts'), 'node:crypto backend bundled');
    assert.ok(
      !bundle.inputs.some((file) => file.endsWith('consensus.ts')),
      'the consensus plugin loader was bundled',
    );
    assert.ok(bundle.inputs.some((file) => file.includes('@noble/curves')));
  });

  describe('in Chromium, on another origin than the node', () => {
    let dir: string;
    let node: NodeProcess;
    let site: Server;
    let siteUrl: string;
    let browser: Browser;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'bigchain-browser-'));
      node = await startLoneNode(dir);
      // The page and the bundle from a server of their own: another port is another origin, so CORS applies.
      site = createServer((request, response) => {
        if (request.url === '/driver.js') {
          response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
          response.end(bundle.code);
        } else {
          response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          response.end('<!doctype html><title>driver</title>');
        }
      });
      await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
      siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
      await node?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('create → waitFor valid → getTransaction → transfer; a double spend is InvalidTransaction', async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(siteUrl);
      const result = await page.evaluate(
        async ({ apiEndpoint, site }: { apiEndpoint: string; site: string }) => {
          type Driver = typeof import('../../src/driver/index.ts');
          const driver = (await import(`${site}driver.js`)) as Driver;
          const alice = driver.tempClient({ apiEndpoint });
          const bob = driver.tempClient({ apiEndpoint });
          const created = await alice.create({ from: 'a browser' });
          const status = await alice.waitFor(created.id, 'valid', { timeoutMs: 20_000, intervalMs: 100 });
          const fetched = await alice.getTransaction(created.id);
          const transfer = await alice.transfer(bob.publicKey, { txid: created.id, cid: 0 });
          await alice.waitFor(transfer.id, 'valid', { timeoutMs: 20_000, intervalMs: 100 });
          let doubleSpend: {
            name: string;
            status: number | undefined;
            message: string;
            isInvalid: boolean;
          } | null = null;
          try {
            await alice.transfer(alice.publicKey, { txid: created.id, cid: 0 });
          } catch (error) {
            if (error instanceof driver.DriverError)
              doubleSpend = {
                name: error.name,
                status: error.status,
                message: error.message,
                isInvalid: error instanceof driver.InvalidTransaction,
              };
          }
          return {
            alice: alice.publicKey,
            created,
            status,
            fetched,
            transferId: transfer.id,
            doubleSpend,
          };
        },
        { apiEndpoint: node.apiUrl, site: siteUrl },
      );
      await page.close();
      assert.deepEqual(errors, []);
      assert.notEqual(new URL(node.apiUrl).origin, new URL(siteUrl).origin, 'the page is on another origin');
      assert.equal(result.status, 'valid');
      assert.deepEqual(result.created.transaction.conditions[0]?.owners_after, [result.alice]);
      assert.deepEqual(result.created.transaction.data.payload, { from: 'a browser' });
      assert.equal(result.fetched.id, result.created.id);
      assert.deepEqual(result.doubleSpend, {
        name: 'InvalidTransaction',
        status: 400,
        message: `DoubleSpend: input \`{"txid":"${result.created.id}","cid":0}\` was already spent by \`${result.transferId}\``,
        isInvalid: true,
      });
    });
  });
});
