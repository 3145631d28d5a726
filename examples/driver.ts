/**
 * "The Python Driver API by Example" from the BigchainDB 0.6 documentation, ported to `bigchaindb/driver`
 * against a running node's HTTP API (`temp_client()` → `tempClient()`, `c1.create()`, `c1.transfer(...)`).
 * It prints what the page shows and checks every outcome the page shows, exiting with 1 and a message when
 * one does not hold.
 *
 *   bigchaindb start &                                   # a node with its HTTP API on localhost:9984
 *   npm run example:driver                               # --api http://localhost:9984/api/v1
 *   npm run example:driver -- --api http://node.example:9984/api/v1 --wait 60
 *
 * Differences from the page, all deliberate:
 * - The page transfers `tx1` right after creating it. Here the client first waits until the node has put
 *   the CREATE in a valid block (`--wait SECONDS`, default 60): `transfer` fetches the input transaction over
 *   HTTP, which answers only for transactions in a valid or undecided block (0.6's client read the database).
 * - The client signs its CREATE and the node checks that signature before making it its own CREATE (0.6
 *   checked nothing: anyone could mint to any key); ids are SHA3-256, timestamps whole seconds.
 */
import {
  DriverError,
  tempClient,
  type SubmittedTransaction,
  type TransactionStatus,
} from 'bigchaindb/driver';
import { serialize } from 'bigchaindb/protocol';

class CheckFailed extends Error {}

async function driverApiByExample(apiEndpoint: string, waitSeconds: number): Promise<void> {
  // The page's `temp_client()` takes the endpoint from the configuration; here it is `--api`.
  const info = await tempClient({ apiEndpoint }).getNodeInfo();
  console.log(`Using the node ${info.public_key} (${info.software} ${info.version}) at ${apiEndpoint}\n`);

  // In [1]: from bigchaindb.client import temp_client
  // In [2]: c1 = temp_client()
  // In [3]: c2 = temp_client()
  const c1 = tempClient({ apiEndpoint });
  const c2 = tempClient({ apiEndpoint });
  console.log(`c1.publicKey = ${c1.publicKey}`);
  console.log(`c2.publicKey = ${c2.publicKey}\n`);

  // In [4]: tx1 = c1.create()
  // In [5]: tx1
  const tx1 = await c1.create();
  show('tx1', tx1);
  // What the page's Out[5] shows: the node's CREATE (signed by the node, assigned to it) to c1's key.
  check(tx1.transaction.operation === 'CREATE', 'tx1 is a CREATE');
  check(tx1.assignee !== undefined && isKey(tx1.assignee), 'tx1 is assigned to a node');
  check(
    same(tx1.transaction.fulfillments[0]?.owners_before, [info.public_key]),
    "tx1's owner before is the node",
  );
  check(tx1.transaction.fulfillments[0]?.input === null, 'tx1 has no input');
  check(same(tx1.transaction.conditions[0]?.owners_after, [c1.publicKey]), "tx1's owner after is c1");
  check(
    tx1.transaction.conditions[0]?.condition.details?.type_id === 4,
    "tx1's condition is Ed25519 (type 4)",
  );
  check(tx1.transaction.data.payload === null, "tx1's payload is None");

  console.log(`\nwaiting until tx1 is in a valid block before spending it (see the note at the top)`);
  await waitUntil(c1, tx1, 'valid', waitSeconds);

  // In [6]: c1.transfer(c2.public_key, {'txid': tx1['id'], 'cid': 0})
  const tx2 = await c1.transfer(c2.publicKey, { txid: tx1.id, cid: 0 });
  show('c1.transfer(c2.publicKey, { txid: tx1.id, cid: 0 })', tx2);
  // What the page's Out[6] shows: a TRANSFER from c1 to c2 spending tx1's condition 0.
  check(tx2.transaction.operation === 'TRANSFER', 'the transfer is a TRANSFER');
  check(same(tx2.transaction.fulfillments[0]?.owners_before, [c1.publicKey]), 'its owner before is c1');
  check(same(tx2.transaction.fulfillments[0]?.input, { txid: tx1.id, cid: 0 }), 'its input is tx1, cid 0');
  check(
    /^cf:4:/.test(tx2.transaction.fulfillments[0]?.fulfillment ?? ''),
    "it is fulfilled by c1's signature",
  );
  check(same(tx2.transaction.conditions[0]?.owners_after, [c2.publicKey]), 'its owner after is c2');
  check(tx2.transaction.conditions[0]?.condition.details?.type_id === 4, 'its condition is Ed25519 (type 4)');

  await waitUntil(c1, tx2, 'valid', waitSeconds);
}

async function waitUntil(
  client: ReturnType<typeof tempClient>,
  tx: SubmittedTransaction,
  status: TransactionStatus,
  waitSeconds: number,
): Promise<void> {
  await client.waitFor(tx.id, status, { timeoutMs: waitSeconds * 1000, intervalMs: 200 });
  console.log(`status of ${tx.id}: ${await client.getStatus(tx.id)}`);
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new CheckFailed(`the page shows that ${what}, but it is not so`);
}

function same(a: unknown, b: unknown): boolean {
  return serialize(a) === serialize(b);
}

function isKey(text: string): boolean {
  return /^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(text);
}

/** What the page's IPython shell echoes: the value, as indented JSON. */
function show(name: string, value: unknown): void {
  console.log(`${name} = ${JSON.stringify(value, null, 4)}`);
}

const USAGE = 'usage: npm run example:driver -- [--api URL] [--wait SECONDS]';

function parseArguments(argv: readonly string[]): { api: string; waitSeconds: number } {
  const options = { api: 'http://localhost:9984/api/v1', waitSeconds: 60 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--api' && value !== undefined && /^https?:\/\//.test(value)) options.api = value;
    else if (flag === '--wait' && value !== undefined && Number(value) > 0)
      options.waitSeconds = Number(value);
    else throw new CheckFailed(USAGE);
  }
  return options;
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    const { api, waitSeconds } = parseArguments(argv);
    await driverApiByExample(api, waitSeconds);
    console.log('\nEvery outcome the page shows was checked.');
    return 0;
  } catch (error) {
    if (error instanceof CheckFailed) console.error(`driver example: ${error.message}`);
    else if (error instanceof DriverError) console.error(`driver example: ${error.name}: ${error.message}`);
    else
      console.error(
        `driver example: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
