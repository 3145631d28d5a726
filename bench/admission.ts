/**
 * npm run bench:admission — what admitting a client CREATE costs an API worker, without HTTP: client CREATEs
 * (as JSON text, parsed here as the HTTP layer would) go through Admission in rounds of `--round`, as
 * concurrent POSTs do, on a node whose database is an ephemeral embedded PostgreSQL server. Reports this
 * process's CPU per transaction (user + system, `process.cpuUsage`; the database server's own CPU is not in
 * it) next to the node:crypto cost of the two signature operations every CREATE needs here (verify the
 * client's, sign the node's), measured in the same run.
 *
 *   npm run bench:admission -- [--count 10000] [--round 128]
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Admission } from '../src/node/admission.ts';
import { Bigchain } from '../src/node/bigchain.ts';
import { VerifiedSignatures } from '../src/node/verified-signatures.ts';
import { VerifyPool } from '../src/node/verify-pool.ts';
import { generateKeyPair } from '../src/protocol/crypto.ts';
import { createAndSignTx } from '../src/protocol/transaction.ts';
import { DEFAULT_DATABASE_CONFIG, openStorage } from '../src/storage/open.ts';
import { IN_MEMORY_PATH } from '../src/storage/embedded-server.ts';

const WARM_UP = 1_000;
const CLIENT_KEYS = 100;

const { values } = parseArgs({
  options: { count: { type: 'string', default: '10000' }, round: { type: 'string', default: '128' } },
});
const count = Number(values.count);
const round = Number(values.round);
if (!Number.isInteger(count) || count < 1) throw new Error('--count must be a positive integer');
if (!Number.isInteger(round) || round < 1) throw new Error('--round must be a positive integer');

const storage = await openStorage({ ...DEFAULT_DATABASE_CONFIG, path: IN_MEMORY_PATH }, { create: true });
const bigchain = new Bigchain({ storage, keyPair: generateKeyPair() });
await bigchain.createGenesisBlock();
// As in an API worker: signatures checked on this thread.
const pool = new VerifyPool(0);
await pool.ready();
const admission = new Admission(bigchain, pool, new VerifiedSignatures());
const clients = Array.from({ length: CLIENT_KEYS }, () => generateKeyPair());
const bodies = Array.from({ length: WARM_UP + count }, (_, i) => {
  const client = clients[i % CLIENT_KEYS]!;
  const tx = createAndSignTx(client.privateKey, client.publicKey, client.publicKey, null, 'CREATE', {
    payload: { i, note: 'bench:admission' },
  });
  return JSON.stringify(tx);
});

async function admit(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += round) {
    const texts = bodies.slice(i, Math.min(to, i + round));
    await Promise.all(texts.map((text) => admission.submit(JSON.parse(text))));
  }
}

/** node:crypto µs for one Ed25519 verify and one signature of a 700-byte message, on this thread. */
function cryptoCost(): { verifyUs: number; signUs: number } {
  // node:crypto's own keys: the cost of the primitive, without this package's key handling.
  const keys = generateKeyPairSync('ed25519');
  const message = Buffer.alloc(700, 7);
  const signature = sign(null, message, keys.privateKey);
  const time = (op: () => unknown) => {
    const started = process.cpuUsage();
    for (let i = 0; i < 2_000; i++) op();
    const used = process.cpuUsage(started);
    return (used.user + used.system) / 2_000;
  };
  return {
    verifyUs: time(() => verify(null, message, keys.publicKey, signature)),
    signUs: time(() => sign(null, message, keys.privateKey)),
  };
}

await admit(0, WARM_UP);
const started = process.cpuUsage();
const wallStarted = performance.now();
await admit(WARM_UP, WARM_UP + count);
const used = process.cpuUsage(started);
const seconds = (performance.now() - wallStarted) / 1000;
const { verifyUs, signUs } = cryptoCost();
const perTx = (used.user + used.system) / count;
console.log(
  `admission of ${count} client CREATEs in rounds of ${round}: ${perTx.toFixed(0)} µs CPU per transaction ` +
    `(user ${(used.user / count).toFixed(0)}, system ${(used.system / count).toFixed(0)}), ` +
    `${Math.round(count / seconds)} tx/s on one thread`,
);
console.log(
  `node:crypto on this thread: verify ${verifyUs.toFixed(1)} µs + sign ${signUs.toFixed(1)} µs = ` +
    `${(verifyUs + signUs).toFixed(1)} µs, ${((100 * (verifyUs + signUs)) / perTx).toFixed(0)} % of admission`,
);
await pool.close();
await storage.close();
