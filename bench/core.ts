/**
 * npm run bench:core — on one core: raw node:crypto Ed25519 verifications/s, full validations/s of a signed
 * single-input TRANSFER (schema + hash + fulfillment parse, condition match and signature), and their ratio.
 * Each transaction is distinct and validated once, as a node would.
 */
import { sign, verify, generateKeyPairSync } from 'node:crypto';
import { cpus } from 'node:os';
import { generateKeyPair } from '../src/protocol/crypto.ts';
import {
  createTransaction,
  signTransaction,
  lookupInTransactions,
  type Transaction,
} from '../src/protocol/transaction.ts';
import {
  checkFulfillments,
  checkTransactionHash,
  checkTransactionShape,
  validateTransaction,
  type ValidationContext,
} from '../src/protocol/validation.ts';

const COUNT = Number(process.env.BENCH_COUNT ?? 6000);

async function rate(label: string, count: number, run: () => void | Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const perSecond = count / seconds;
  console.log(
    `${label.padEnd(58)} ${perSecond.toFixed(0).padStart(8)} /s  (${((seconds / count) * 1e6).toFixed(1)} µs each)`,
  );
  return perSecond;
}

function rawVerifyRate(): Promise<number> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const messages = Array.from({ length: COUNT }, (_, i) =>
    Buffer.from(`{"message":${i},"padding":"${'x'.repeat(600)}"}`),
  );
  const signatures = messages.map((m) => sign(null, m, privateKey));
  return rate('raw node:crypto Ed25519 verify (cached KeyObject)', COUNT, () => {
    for (let i = 0; i < COUNT; i++)
      if (!verify(null, messages[i]!, publicKey, signatures[i]!)) throw new Error('bad');
  });
}

function buildTransfers(): {
  transfers: Transaction[];
  sources: Map<string, Transaction>;
  federation: string[];
} {
  const node = generateKeyPair();
  const owners = Array.from({ length: 50 }, () => generateKeyPair());
  const sources = new Map<string, Transaction>();
  const transfers: Transaction[] = [];
  for (let i = 0; i < COUNT; i++) {
    const owner = owners[i % owners.length]!;
    const created = signTransaction(
      createTransaction(node.publicKey, owner.publicKey, null, 'CREATE', { payload: { i } }),
      node.privateKey,
    );
    sources.set(created.id, created);
    const transfer = createTransaction(
      owner.publicKey,
      owners[(i + 1) % owners.length]!.publicKey,
      { txid: created.id, cid: 0 },
      'TRANSFER',
      {
        payload: { note: `transfer ${i}` },
      },
    );
    transfers.push(signTransaction(transfer, owner.privateKey, lookupInTransactions([created])));
  }
  return { transfers, sources, federation: [node.publicKey] };
}

async function main(): Promise<void> {
  console.log(
    `bench:core — ${COUNT} operations each, one core (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
  );
  const verifyRate = await rawVerifyRate();
  const { transfers, sources, federation } = buildTransfers();
  const now = String(Math.floor(Date.now() / 1000));
  const inputConditions = transfers.map((tx) => {
    const input = tx.transaction.fulfillments[0]!.input!;
    return [sources.get(input.txid)!.transaction.conditions[input.cid]!.condition];
  });
  const pureRate = await rate('validation: schema + hash + fulfillment (pure part)', COUNT, () => {
    for (let i = 0; i < COUNT; i++) {
      const tx = checkTransactionShape(transfers[i]);
      checkTransactionHash(tx);
      checkFulfillments(tx, inputConditions[i]!, now);
    }
  });
  const ctx: ValidationContext = {
    federation,
    now: () => now,
    getValidTransaction: (txid) => sources.get(txid),
    getSpender: () => undefined,
    isInChain: () => false,
  };
  const fullRate = await rate('validateTransaction, in-memory chain (all R6 rules)', COUNT, async () => {
    for (const tx of transfers) await validateTransaction(tx, ctx);
  });
  console.log(`ratio pure validation / raw verify: ${(pureRate / verifyRate).toFixed(2)} (target ≥ 0.70)`);
  console.log(`ratio validateTransaction / raw verify: ${(fullRate / verifyRate).toFixed(2)}`);
}

await main();
