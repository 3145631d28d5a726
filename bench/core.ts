/**
 * npm run bench:core — on one core: raw node:crypto Ed25519 verifications/s, full validations/s of a signed
 * single-input TRANSFER (schema + hash + fulfillment parse, condition match and signature), and their ratio.
 * Each transaction is distinct and validated once per round, as a node would. The measurements are interleaved
 * over several rounds and the median is reported, so a noisy neighbour skews all of them alike.
 */
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { cpus } from 'node:os';
import { generateKeyPair } from '../src/protocol/crypto.ts';
import { Ed25519Fulfillment, Fulfillment } from '../src/protocol/cc/index.ts';
import {
  createTransaction,
  lookupInTransactions,
  serializeFulfillmentMessage,
  signTransaction,
  type Transaction,
} from '../src/protocol/transaction.ts';
import {
  checkFulfillments,
  checkTransactionHash,
  checkTransactionShape,
  validateTransaction,
  type ValidationContext,
} from '../src/protocol/validation.ts';

const COUNT = Number(process.env.BENCH_COUNT ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const OWNERS = 50;
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

interface Measurement {
  label: string;
  run: () => void | Promise<void>;
  seconds: number[];
}

function buildTransfers(): {
  transfers: Transaction[];
  sources: Map<string, Transaction>;
  federation: string[];
} {
  const node = generateKeyPair();
  const owners = Array.from({ length: OWNERS }, () => generateKeyPair());
  const sources = new Map<string, Transaction>();
  const transfers: Transaction[] = [];
  for (let i = 0; i < COUNT; i++) {
    const owner = owners[i % OWNERS]!;
    const created = signTransaction(
      createTransaction(node.publicKey, owner.publicKey, null, 'CREATE', { payload: { i } }),
      node.privateKey,
    );
    sources.set(created.id, created);
    const transfer = createTransaction(
      owner.publicKey,
      owners[(i + 1) % OWNERS]!.publicKey,
      { txid: created.id, cid: 0 },
      'TRANSFER',
      { payload: { note: `transfer ${i}` } },
    );
    transfers.push(signTransaction(transfer, owner.privateKey, lookupInTransactions([created])));
  }
  return { transfers, sources, federation: [node.publicKey] };
}

/** One key and one message size: the figure usually quoted (shared/reference/measurements.md). */
function singleKeyVerify(): () => void {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const messages = Array.from({ length: COUNT }, (_, i) =>
    Buffer.from(`{"message":${i},"pad":"${'x'.repeat(650)}"}`),
  );
  const signatures = messages.map((m) => sign(null, m, privateKey));
  return () => {
    for (let i = 0; i < COUNT; i++)
      if (!verify(null, messages[i]!, publicKey, signatures[i]!)) throw new Error('bad');
  };
}

/** The ceiling for this workload: exactly the signatures validation checks, KeyObjects built beforehand. */
function workloadVerify(transfers: readonly Transaction[]): () => void {
  const keys = new Map<string, KeyObject>();
  const jobs = transfers.map((tx) => {
    const entry = tx.transaction.fulfillments[0]!;
    const fulfillment = Fulfillment.fromUri(entry.fulfillment!) as Ed25519Fulfillment;
    const id = fulfillment.publicKeyBase58;
    if (!keys.has(id)) {
      const der = Buffer.concat([SPKI_ED25519_PREFIX, fulfillment.publicKey!]);
      keys.set(id, createPublicKey({ key: der, format: 'der', type: 'spki' }));
    }
    return {
      message: Buffer.from(serializeFulfillmentMessage(tx, entry)),
      signature: fulfillment.signature!,
      key: keys.get(id)!,
    };
  });
  return () => {
    for (const job of jobs) if (!verify(null, job.message, job.key, job.signature)) throw new Error('bad');
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  console.log(
    `bench:core — ${COUNT} transactions × ${ROUNDS} rounds, one core (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
  );
  const { transfers, sources, federation } = buildTransfers();
  const now = String(Math.floor(Date.now() / 1000));
  const inputConditions = transfers.map((tx) => {
    const input = tx.transaction.fulfillments[0]!.input!;
    return [sources.get(input.txid)!.transaction.conditions[input.cid]!.condition];
  });
  const ctx: ValidationContext = {
    federation,
    now: () => now,
    getValidTransaction: (txid) => sources.get(txid),
    getSpender: () => undefined,
    isInChain: () => false,
  };
  const measurements: Measurement[] = [
    { label: 'raw verify, one key (reference)', run: singleKeyVerify(), seconds: [] },
    {
      label: 'raw verify of the same signatures (prebuilt keys)',
      run: workloadVerify(transfers),
      seconds: [],
    },
    {
      label: 'validation: schema + hash + fulfillment',
      run: () => {
        for (let i = 0; i < COUNT; i++) {
          const tx = checkTransactionShape(transfers[i]);
          checkTransactionHash(tx);
          checkFulfillments(tx, inputConditions[i]!, now);
        }
      },
      seconds: [],
    },
    {
      label: 'validateTransaction (all R6 rules, in-memory chain)',
      run: async () => {
        for (const tx of transfers) await validateTransaction(tx, ctx);
      },
      seconds: [],
    },
  ];
  for (let round = 0; round < ROUNDS; round++) {
    for (const m of measurements) {
      const start = process.hrtime.bigint();
      await m.run();
      m.seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
  }
  const rates = measurements.map((m) => COUNT / median(m.seconds));
  measurements.forEach((m, i) => {
    const perSecond = rates[i]!;
    console.log(
      `${m.label.padEnd(52)} ${perSecond.toFixed(0).padStart(7)} /s  ${(1e6 / perSecond).toFixed(1).padStart(6)} µs`,
    );
  });
  const [, ceiling, pure, full] = rates as [number, number, number, number];
  console.log(`ratio validation / raw verify:          ${(pure / ceiling).toFixed(2)} (target ≥ 0.70)`);
  console.log(`ratio validateTransaction / raw verify: ${(full / ceiling).toFixed(2)}`);
}

await main();
