/**
 * Offline signing for `curl` users: makes keypairs and signed transactions as JSON files, so the HTTP API
 * can be driven with nothing but curl (README "Quick start"). Nothing here talks to a node.
 *
 *   npx tsx examples/transaction.ts keypair                          > alice.json
 *   npx tsx examples/transaction.ts create KEYPAIR_FILE [PAYLOAD]    > create.json
 *   npx tsx examples/transaction.ts transfer KEYPAIR_FILE TX_FILE TO_PUBLIC_KEY > transfer.json
 *
 * `create` is the client-signed CREATE the node checks and re-signs; `transfer` spends output 0 of TX_FILE
 * (a transaction as the node answered it) to TO_PUBLIC_KEY.
 */
import { readFileSync } from 'node:fs';
import {
  createTransaction,
  generateKeyPair,
  lookupInTransactions,
  signTransaction,
  type JsonObject,
  type Transaction,
} from 'bigchaindb/protocol';

const USAGE = `usage: transaction.ts keypair
       transaction.ts create KEYPAIR_FILE [PAYLOAD_JSON]
       transaction.ts transfer KEYPAIR_FILE TX_FILE TO_PUBLIC_KEY`;

interface KeyPairFile {
  public: string;
  private: string;
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new Error(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function main([command, ...args]: string[]): unknown {
  if (command === 'keypair' && args.length === 0) {
    const { publicKey, privateKey } = generateKeyPair();
    return { public: publicKey, private: privateKey };
  }
  if (command === 'create' && (args.length === 1 || args.length === 2)) {
    const keys = readJson<KeyPairFile>(args[0]!);
    const payload = args[1] === undefined ? null : (JSON.parse(args[1]) as JsonObject);
    return signTransaction(
      createTransaction(keys.public, keys.public, null, 'CREATE', { payload }),
      keys.private,
    );
  }
  if (command === 'transfer' && args.length === 3) {
    const keys = readJson<KeyPairFile>(args[0]!);
    const spent = readJson<Transaction>(args[1]!);
    const tx = createTransaction(keys.public, args[2], { txid: spent.id, cid: 0 }, 'TRANSFER');
    return signTransaction(tx, keys.private, lookupInTransactions([spent]));
  }
  console.error(USAGE);
  process.exit(2);
}

try {
  console.log(JSON.stringify(main(process.argv.slice(2))));
} catch (error) {
  console.error(`transaction.ts: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
