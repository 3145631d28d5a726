import { tempClient } from 'bigchaindb/driver';

const apiEndpoint = process.env.BIGCHAINDB_API_ENDPOINT ?? 'http://localhost:9984/api/v1';
const alice = tempClient({ apiEndpoint }); // a fresh keypair
const bob = tempClient({ apiEndpoint });

// Alice asks the node for an asset; the node checks her signature and signs its own CREATE to her.
const created = await alice.create({ msg: 'Hello BigchainDB!' });
console.log('CREATE', created.id, await alice.waitFor(created.id, 'valid'));

// Alice gives it to Bob: the driver fetches the CREATE from the node to sign the spend.
const transfer = await alice.transfer(bob.publicKey, { txid: created.id, cid: 0 });
console.log('TRANSFER', transfer.id, await bob.waitFor(transfer.id, 'valid'));
