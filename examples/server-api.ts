/**
 * "The Python Server API by Example" from the BigchainDB 0.6 documentation, ported step by step to the
 * TypeScript `Bigchain` class (the same calls in camelCase: create_transaction → createTransaction, ...;
 * the node's private key stays inside Bigchain, so b.sign_transaction(tx, b.me_private) → b.signAsNode(tx)).
 * Each section of the page is a section below, in the page's order; the script prints what the page shows
 * and checks every outcome the page describes, exiting with 1 and a message when one does not hold.
 *
 *   npm run example:server-api                    # the node configuration in ~/.bigchaindb
 *   npm run example:server-api -- -c node.json    # or BIGCHAINDB_CONFIG_PATH=node.json
 *
 * It reads the node configuration as `bigchaindb` does (defaults < file < BIGCHAINDB_* environment) and
 * opens that node's database:
 *
 * - `embedded` backend: only one process can open the embedded database, so the script runs the node
 *   pipelines (block, vote, election, stale) in-process itself and stops them at the end. Stop any
 *   `bigchaindb start` on that database first.
 * - `postgresql` backend: the script only writes to the backlog and reads the chain, like the page's Python
 *   shell next to a running server. Start a node on that database first: `bigchaindb -c node.json start`.
 *
 * Where the page says "after a couple of seconds", the script polls the transaction's status until it is in
 * a valid block (`--wait SECONDS`, default 60, then it fails saying what it waited for).
 *
 * Differences from the page, all deliberate:
 * - The page reads a transaction back right after writing it; here we first wait until the node has put it
 *   in a valid block, since a TRANSFER can only spend outputs of valid blocks.
 * - The timeout and escrow loops run until the switch has been seen (the page loops `time_sleep - 4` times
 *   and says "if you were fast enough").
 * - Booleans print as `true`/`false`, and ids, keys and timestamps differ from the page's (transaction ids
 *   are SHA3-256 here, timestamps whole seconds: see docs/protocol.md).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import {
  Bigchain,
  BigchainNode,
  DoubleSpend,
  generateKeyPair,
  getHashData,
  InvalidSignature,
  KeypairNotFoundException,
  loadConfig,
  nodeOptions,
  serializeFulfillmentMessage,
  streamLogger,
  timestamp,
  ValidationError,
  type Transaction,
} from 'bigchaindb';
import * as cc from 'bigchaindb/protocol';

// --- the page, section by section -----------------------------------------------------------------------

async function serverApiByExample(b: Bigchain, waitUntil: Waiter): Promise<void> {
  // === Getting Started ===
  // (main() below is the page's `b = Bigchain()`: it reads the configuration and opens the node's database.)
  section('Getting Started');
  console.log(`b.me: ${b.me}`);

  // === Create a Digital Asset ===
  section('Create a Digital Asset');

  // Create a test user
  const { privateKey: testuser1Priv, publicKey: testuser1Pub } = generateKeyPair();

  // Define a digital asset data payload
  const digitalAssetPayload = { msg: 'Hello BigchainDB!' };

  // A create transaction uses the operation `CREATE` and has no inputs
  const tx = b.createTransaction(b.me, testuser1Pub, null, 'CREATE', { payload: digitalAssetPayload });

  // All transactions need to be signed by the user creating the transaction
  const txSigned = await b.signAsNode(tx);

  // Write the transaction to the bigchain.
  // The transaction will be stored in a backlog where it will be validated,
  // included in a block, and written to the bigchain
  await b.writeTransaction(txSigned);
  console.log(`wrote ${txSigned.id} to the backlog`);

  // === Read the Creation Transaction from the DB ===
  section('Read the Creation Transaction from the DB');

  // After a couple of seconds, we can check if the transaction was included in the bigchain
  await waitUntil.valid(txSigned);

  // Retrieve a transaction from the bigchain
  const txRetrieved = await b.getTransaction(txSigned.id);
  show('txRetrieved', txRetrieved);
  checkEqual(txRetrieved, txSigned, 'get_transaction returns the CREATE as it was written');
  checkEqual(await b.getStatus(txSigned.id), 'valid', 'the CREATE is in a valid block');
  // The new owner of the digital asset is testuser1; the current owner is the federation node that created it.
  checkEqual(
    txRetrieved?.transaction.conditions[0]?.owners_after,
    [testuser1Pub],
    'owners_after is testuser1',
  );
  checkEqual(txRetrieved?.transaction.fulfillments[0]?.owners_before, [b.me], 'owners_before is the node');

  // === Transfer the Digital Asset ===
  section('Transfer the Digital Asset');

  // Create a second testuser
  const { privateKey: testuser2Priv, publicKey: testuser2Pub } = generateKeyPair();

  // Retrieve the transaction with condition id
  let txRetrievedId = (await b.getOwnedIds(testuser1Pub)).pop();
  show('txRetrievedId', txRetrievedId);
  checkEqual(
    txRetrievedId,
    { txid: txSigned.id, cid: 0 },
    'get_owned_ids(testuser1) returns the CREATE output',
  );
  check(txRetrievedId !== undefined, 'testuser1 owns an asset');

  // Create a transfer transaction
  const txTransfer = b.createTransaction(testuser1Pub, testuser2Pub, txRetrievedId, 'TRANSFER');

  // Sign the transaction
  const txTransferSigned = await b.signTransaction(txTransfer, testuser1Priv);

  // Write the transaction
  await b.writeTransaction(txTransferSigned);

  // Check if the transaction is already in the bigchain
  await waitUntil.valid(txTransferSigned);
  const txTransferRetrieved = await b.getTransaction(txTransferSigned.id);
  show('txTransferRetrieved', txTransferRetrieved);
  checkEqual(txTransferRetrieved, txTransferSigned, 'get_transaction returns the TRANSFER');
  checkEqual(
    await b.getOwnedIds(testuser2Pub),
    [{ txid: txTransferSigned.id, cid: 0 }],
    'get_owned_ids(testuser2) returns the transferred output',
  );
  checkEqual(await b.getOwnedIds(testuser1Pub), [], 'testuser1 owns nothing any more');
  checkEqual(await b.getSpent(txRetrievedId), txTransferSigned, 'get_spent names the TRANSFER');

  // === Double Spends ===
  section('Double Spends');

  // Create another transfer transaction with the same input
  const txTransfer2 = b.createTransaction(testuser1Pub, testuser2Pub, txRetrievedId, 'TRANSFER');

  // Sign the transaction
  const txTransferSigned2 = await b.signTransaction(txTransfer2, testuser1Priv);

  // Check if the transaction is valid
  const doubleSpend = await validationError(b, txTransferSigned2);
  console.log(`${doubleSpend?.name}: ${doubleSpend?.message}`);
  check(
    doubleSpend instanceof DoubleSpend,
    'validate_transaction refuses the second transfer as a DoubleSpend',
  );

  // (Not on the page: writing it anyway, the node refuses it for the same reason.)
  await b.writeTransaction(txTransferSigned2);
  const doubleSpendRejected = await waitUntil.rejected(txTransferSigned2);
  console.log(`the node rejected it: ${doubleSpendRejected}`);
  check(doubleSpendRejected.startsWith('DoubleSpend:'), 'the node rejects the double spend as a DoubleSpend');

  // === Multiple Owners ===
  section('Multiple Owners');

  // Create a new asset and assign it to multiple owners
  const txMultisig = b.createTransaction(b.me, [testuser1Pub, testuser2Pub], null, 'CREATE');

  // Have the federation node sign the transaction
  const txMultisigSigned = await b.signAsNode(txMultisig);

  // Write the transaction
  await b.writeTransaction(txMultisigSigned);

  // Check if the transaction is already in the bigchain
  await waitUntil.valid(txMultisigSigned);
  const txMultisigRetrieved = await b.getTransaction(txMultisigSigned.id);
  show('txMultisigRetrieved', txMultisigRetrieved);
  checkEqual(txMultisigRetrieved, txMultisigSigned, 'get_transaction returns the multisig CREATE');
  check(
    /^cc:2:29:[\w-]+:206$/.test(txMultisigRetrieved?.transaction.conditions[0]?.condition.uri ?? ''),
    'the output carries a 2-of-2 threshold condition of the two owners (cc:2:29:…:206, as on the page)',
  );

  // The asset can be transferred as soon as each of the owners_after signs the transaction.
  // To do so, simply provide a list of all private keys to the signing routine:

  // Create a third testuser
  const { publicKey: testuser3Pub } = generateKeyPair();

  // Retrieve the multisig transaction (the owned ids come in block order, so the last one is the newest)
  const txMultisigRetrievedId = (await b.getOwnedIds(testuser2Pub)).pop();
  checkEqual(
    txMultisigRetrievedId,
    { txid: txMultisigSigned.id, cid: 0 },
    'the last owned id is the multisig',
  );
  check(txMultisigRetrievedId !== undefined, 'testuser2 owns the multisig asset');

  // Transfer the asset from the 2 owners to the third testuser
  const txMultisigTransfer = b.createTransaction(
    [testuser1Pub, testuser2Pub],
    testuser3Pub,
    txMultisigRetrievedId,
    'TRANSFER',
  );

  // Sign with both private keys
  const txMultisigTransferSigned = await b.signTransaction(txMultisigTransfer, [
    testuser1Priv,
    testuser2Priv,
  ]);

  // Write the transaction
  await b.writeTransaction(txMultisigTransferSigned);

  // Check if the transaction is already in the bigchain
  await waitUntil.valid(txMultisigTransferSigned);
  const txMultisigTransferRetrieved = await b.getTransaction(txMultisigTransferSigned.id);
  show('txMultisigTransferRetrieved', txMultisigTransferRetrieved);
  checkEqual(
    await b.getOwnedIds(testuser3Pub),
    [{ txid: txMultisigTransferSigned.id, cid: 0 }],
    'testuser3 owns the asset the two owners transferred',
  );

  // === Multiple Inputs and Outputs ===
  section('Multiple Inputs and Outputs');

  // Create some assets for bulk transfer
  const mimoAssets: Transaction[] = [];
  for (let i = 0; i < 3; i++) {
    const txMimoAsset = b.createTransaction(b.me, testuser1Pub, null, 'CREATE');
    const txMimoAssetSigned = await b.signAsNode(txMimoAsset);
    await b.writeTransaction(txMimoAssetSigned);
    mimoAssets.push(txMimoAssetSigned);
  }

  // Wait until they appear on the bigchain and get the inputs
  await waitUntil.valid(...mimoAssets);
  const ownedMimoInputs = await b.getOwnedIds(testuser1Pub);

  // Check the number of assets
  console.log(`ownedMimoInputs.length: ${ownedMimoInputs.length}`);
  checkEqual(ownedMimoInputs.length, 3, 'testuser1 owns the three new assets');

  // Create a signed TRANSFER transaction with all the assets
  const txMimo = b.createTransaction(testuser1Pub, testuser2Pub, ownedMimoInputs, 'TRANSFER');
  const txMimoSigned = await b.signTransaction(txMimo, testuser1Priv);

  // Write the transaction
  await b.writeTransaction(txMimoSigned);

  // Check if the transaction is already in the bigchain
  await waitUntil.valid(txMimoSigned);
  const txMimoRetrieved = await b.getTransaction(txMimoSigned.id);
  show('txMimoRetrieved', txMimoRetrieved);
  checkEqual(
    txMimoRetrieved?.transaction.fulfillments.map((f) => [f.fid, f.input]),
    ownedMimoInputs.map((input, fid) => [fid, input]),
    'one fulfillment (fid) per input',
  );
  checkEqual(
    txMimoRetrieved?.transaction.conditions.map((c) => [c.cid, c.owners_after]),
    [0, 1, 2].map((cid) => [cid, [testuser2Pub]]),
    'one condition (cid) per input, each to testuser2',
  );

  // === Crypto-Conditions (Advanced): Threshold Conditions ===
  section('Crypto-Conditions (Advanced): Threshold Conditions');

  // Create some new testusers
  const { privateKey: thresholduser1Priv, publicKey: thresholduser1Pub } = generateKeyPair();
  const { privateKey: thresholduser2Priv, publicKey: thresholduser2Pub } = generateKeyPair();
  const { publicKey: thresholduser3Pub } = generateKeyPair();

  // Retrieve the last transaction of testuser2
  txRetrievedId = (await b.getOwnedIds(testuser2Pub)).pop();
  check(txRetrievedId !== undefined, 'testuser2 owns an asset');

  // Create a base template for a 1-input/3-output transaction
  const thresholdTx = b.createTransaction(
    testuser2Pub,
    [thresholduser1Pub, thresholduser2Pub, thresholduser3Pub],
    txRetrievedId,
    'TRANSFER',
  );

  // Create a Threshold Cryptocondition
  const thresholdCondition = new cc.ThresholdSha256Fulfillment(2);
  thresholdCondition.addSubfulfillment(new cc.Ed25519Fulfillment(thresholduser1Pub));
  thresholdCondition.addSubfulfillment(new cc.Ed25519Fulfillment(thresholduser2Pub));
  thresholdCondition.addSubfulfillment(new cc.Ed25519Fulfillment(thresholduser3Pub));

  // Update the condition in the newly created transaction
  // (withCondition() in src/protocol/transaction.ts does this and the next step in one call)
  thresholdTx.transaction.conditions[0]!.condition = {
    details: thresholdCondition.toDict(),
    uri: thresholdCondition.condition.serializeUri(),
  };

  // Conditions have been updated, so the transaction hash (ID) needs updating
  thresholdTx.id = getHashData(thresholdTx);

  // Sign the transaction
  const thresholdTxSigned = await b.signTransaction(thresholdTx, testuser2Priv);

  // Write the transaction
  await b.writeTransaction(thresholdTxSigned);

  // Check if the transaction is already in the bigchain
  await waitUntil.valid(thresholdTxSigned);
  const txThresholdRetrieved = await b.getTransaction(thresholdTxSigned.id);
  show('txThresholdRetrieved', txThresholdRetrieved);
  check(
    /^cc:2:29:[\w-]+:246$/.test(txThresholdRetrieved?.transaction.conditions[0]?.condition.uri ?? ''),
    'the output carries the 2-of-3 threshold condition (cc:2:29:…:246, as on the page)',
  );

  // The transaction can now be transferred by fulfilling the threshold condition.

  // Create a new testuser to receive
  const { publicKey: thresholduser4Pub } = generateKeyPair();

  // Retrieve the last transaction of thresholduser1_pub
  txRetrievedId = (await b.getOwnedIds(thresholduser1Pub)).pop();
  checkEqual(
    txRetrievedId,
    { txid: thresholdTxSigned.id, cid: 0 },
    'thresholduser1 owns the threshold output',
  );
  check(txRetrievedId !== undefined, 'thresholduser1 owns an asset');

  // Create a base template for a 1-input/1-output transaction
  const thresholdTxTransfer = b.createTransaction(
    [thresholduser1Pub, thresholduser2Pub, thresholduser3Pub],
    thresholduser4Pub,
    txRetrievedId,
    'TRANSFER',
  );

  // Parse the threshold cryptocondition
  const thresholdFulfillment = asThreshold(
    cc.Fulfillment.fromDict(thresholdTx.transaction.conditions[0]!.condition.details),
  );

  const subfulfillment1 = thresholdFulfillment.getSubconditionFromVk(thresholduser1Pub)[0]!;
  const subfulfillment2 = thresholdFulfillment.getSubconditionFromVk(thresholduser2Pub)[0]!;
  const subfulfillment3 = thresholdFulfillment.getSubconditionFromVk(thresholduser3Pub)[0]!;

  // Get the fulfillment message to sign
  const thresholdTxFulfillmentMessage = serializeFulfillmentMessage(
    thresholdTxTransfer,
    thresholdTxTransfer.transaction.fulfillments[0]!,
  );

  // Clear the subconditions of the threshold fulfillment, they will be added again after signing
  thresholdFulfillment.subconditions = [];

  // Sign and add the subconditions until threshold of 2 is reached
  subfulfillment1.sign(thresholdTxFulfillmentMessage, thresholduser1Priv);
  thresholdFulfillment.addSubfulfillment(subfulfillment1);
  subfulfillment2.sign(thresholdTxFulfillmentMessage, thresholduser2Priv);
  thresholdFulfillment.addSubfulfillment(subfulfillment2);

  // Add remaining (unfulfilled) fulfillment as a condition
  thresholdFulfillment.addSubcondition(subfulfillment3.condition);

  // Update the fulfillment
  // (b.signTransaction(thresholdTxTransfer, [thresholduser1Priv, thresholduser2Priv]) builds the same)
  thresholdTxTransfer.transaction.fulfillments[0]!.fulfillment = thresholdFulfillment.serializeUri();

  // Optional validation checks
  check(thresholdFulfillment.validate(thresholdTxFulfillmentMessage), 'the threshold fulfillment validates');
  check(await b.validateFulfillments(thresholdTxTransfer), 'validate_fulfillments is true');
  checkEqual(await b.validateTransaction(thresholdTxTransfer), thresholdTxTransfer, 'validate_transaction');

  await b.writeTransaction(thresholdTxTransfer);
  show('thresholdTxTransfer', thresholdTxTransfer);
  await waitUntil.valid(thresholdTxTransfer);
  checkEqual(
    await b.getOwnedIds(thresholduser4Pub),
    [{ txid: thresholdTxTransfer.id, cid: 0 }],
    'two of the three threshold owners transferred the asset to thresholduser4',
  );

  // === Hash-locked Conditions ===
  section('Hash-locked Conditions');

  // Create a hash-locked asset without any owners_after
  const hashlockTx = b.createTransaction(b.me, null, null, 'CREATE');

  // Define a secret that will be hashed - fulfillments need to guess the secret
  const secret = new TextEncoder().encode('much secret! wow!');
  const firstTxCondition = new cc.PreimageSha256Fulfillment(secret);

  // The conditions list is empty, so we need to append a new condition
  hashlockTx.transaction.conditions.push({
    condition: {
      uri: firstTxCondition.condition.serializeUri(),
    },
    cid: 0,
    owners_after: null,
  });

  // Conditions have been updated, so the hash needs updating
  hashlockTx.id = getHashData(hashlockTx);

  // The asset needs to be signed by the owner_before
  const hashlockTxSigned = await b.signAsNode(hashlockTx);

  // Some validations
  checkEqual(
    await b.validateTransaction(hashlockTxSigned),
    hashlockTxSigned,
    'validate_transaction (hashlock)',
  );

  await b.writeTransaction(hashlockTxSigned);
  show('hashlockTxSigned', hashlockTxSigned);
  checkEqual(
    hashlockTxSigned.transaction.conditions[0]?.condition.uri,
    'cc:0:3:nsW2IiYgk9EUtsg4uBe3pBnOgRoAEX2IIsPgjqZz47U:17',
    'the hashlock condition is the one on the page',
  );

  // In order to redeem the asset, one needs to create a fulfillment with the correct secret.
  // (The asset has to be in a valid block before anyone can redeem it.)
  await waitUntil.valid(hashlockTxSigned);

  const { publicKey: hashlockuserPub } = generateKeyPair();

  // Create hashlock fulfillment tx
  const hashlockFulfillTx = b.createTransaction(
    null,
    hashlockuserPub,
    { txid: hashlockTx.id, cid: 0 },
    'TRANSFER',
  );

  // Provide a wrong secret
  let hashlockFulfillTxFulfillment = new cc.PreimageSha256Fulfillment(new Uint8Array(0));
  hashlockFulfillTx.transaction.fulfillments[0]!.fulfillment = hashlockFulfillTxFulfillment.serializeUri();

  checkEqual(
    await b.isValidTransaction(hashlockFulfillTx),
    false,
    'a hashlock with the wrong secret is invalid',
  );
  const wrongSecret = await validationError(b, hashlockFulfillTx);
  console.log(`with the wrong secret: ${wrongSecret?.name}: ${wrongSecret?.message}`);
  check(wrongSecret instanceof InvalidSignature, 'the wrong secret fails as an InvalidSignature');

  // Provide the right secret
  hashlockFulfillTxFulfillment = new cc.PreimageSha256Fulfillment(secret);
  hashlockFulfillTx.transaction.fulfillments[0]!.fulfillment = hashlockFulfillTxFulfillment.serializeUri();

  checkEqual(await b.validateTransaction(hashlockFulfillTx), hashlockFulfillTx, 'the right secret is valid');

  await b.writeTransaction(hashlockFulfillTx);
  show('hashlockFulfillTx', hashlockFulfillTx);
  checkEqual(
    hashlockFulfillTx.transaction.fulfillments[0]?.fulfillment,
    'cf:0:bXVjaCBzZWNyZXQhIHdvdyE',
    'the fulfillment is the secret, as on the page',
  );
  await waitUntil.valid(hashlockFulfillTx);
  checkEqual(
    await b.getOwnedIds(hashlockuserPub),
    [{ txid: hashlockFulfillTx.id, cid: 0 }],
    'whoever knew the secret now owns the asset',
  );

  // === Timeout Conditions ===
  section('Timeout Conditions');

  // Create a timeout asset without any owners_after
  const txTimeout = b.createTransaction(b.me, null, null, 'CREATE');

  // Set expiry time - the asset needs to be transferred before expiration
  let timeSleep = 12;
  let timeExpire = String(Number(timestamp()) + timeSleep); // 12 secs from now
  let conditionTimeout = new cc.TimeoutFulfillment(timeExpire);

  // The conditions list is empty, so we need to append a new condition
  txTimeout.transaction.conditions.push({
    condition: {
      details: conditionTimeout.toDict(),
      uri: conditionTimeout.condition.serializeUri(),
    },
    cid: 0,
    owners_after: null,
  });

  // Conditions have been updated, so the hash needs updating
  txTimeout.id = getHashData(txTimeout);

  // The asset needs to be signed by the owner_before
  const txTimeoutSigned = await b.signAsNode(txTimeout);

  // Some validations
  checkEqual(await b.validateTransaction(txTimeoutSigned), txTimeoutSigned, 'validate_transaction (timeout)');

  await b.writeTransaction(txTimeoutSigned);
  show('txTimeoutSigned', txTimeoutSigned);

  // The following demonstrates that the transaction invalidates once the timeout occurs.
  // (The asset has to be in a valid block before it can be transferred at all.)
  await waitUntil.valid(txTimeoutSigned);

  // Create a timeout fulfillment tx
  const txTimeoutTransfer = b.createTransaction(
    null,
    testuser1Pub,
    { txid: txTimeout.id, cid: 0 },
    'TRANSFER',
  );

  // Parse the timeout condition and create the corresponding fulfillment
  const timeoutFulfillment = cc.Fulfillment.fromDict(txTimeout.transaction.conditions[0]!.condition.details);
  txTimeoutTransfer.transaction.fulfillments[0]!.fulfillment = timeoutFulfillment.serializeUri();

  // No need to sign transaction, like with hashlocks

  // Small test to see the state change (until the switch has been seen, two invalid rounds in a row)
  const txTimeoutValidity: boolean[] = [];
  for (let i = 0; i < timeSleep + 4 && !lastTwoAre(false, txTimeoutValidity); i++) {
    const txTimeoutValid = isDeepStrictEqual(
      await b.isValidTransaction(txTimeoutTransfer),
      txTimeoutTransfer,
    );
    const secondsToTimeout = Math.trunc(Number(timeExpire) - Number(timestamp()));
    console.log(`tx_timeout valid: ${txTimeoutValid} (${secondsToTimeout}s to timeout)`);
    txTimeoutValidity.push(txTimeoutValid);
    await sleep(1000);
  }
  checkSwitch(
    txTimeoutValidity,
    true,
    'the timeout transfer is valid until the expiry time, invalid after it',
  );
  const expired = await validationError(b, txTimeoutTransfer);
  console.log(`after the expiry: ${expired?.name}: ${expired?.message}`);
  check(expired instanceof InvalidSignature, 'once expired, the asset cannot be fulfilled by anyone');

  // === Escrow ===
  section('Escrow');

  // Retrieve the last transaction of testuser2_pub (or create a new asset)
  txRetrievedId = (await b.getOwnedIds(testuser2Pub)).pop();
  check(txRetrievedId !== undefined, 'testuser2 owns an asset');

  // Create a base template with the execute and abort address
  const txEscrow = b.createTransaction(testuser2Pub, [testuser2Pub, testuser1Pub], txRetrievedId, 'TRANSFER');

  // Set expiry time - the execute address needs to fulfill before expiration
  timeSleep = 12;
  timeExpire = String(Number(timestamp()) + timeSleep); // 12 secs from now

  // Create the escrow and timeout condition
  const conditionEscrow = new cc.ThresholdSha256Fulfillment(1); // OR Gate
  conditionTimeout = new cc.TimeoutFulfillment(timeExpire); // only valid if now() <= time_expire
  const conditionTimeoutInverted = new cc.InvertedThresholdSha256Fulfillment(1);
  conditionTimeoutInverted.addSubfulfillment(conditionTimeout); // invert the timeout condition

  // Create the execute branch
  let conditionExecute = new cc.ThresholdSha256Fulfillment(2); // AND gate
  conditionExecute.addSubfulfillment(new cc.Ed25519Fulfillment(testuser1Pub)); // execute address
  conditionExecute.addSubfulfillment(conditionTimeout); // federation checks on expiry
  conditionEscrow.addSubfulfillment(conditionExecute);

  // Create the abort branch
  let conditionAbort = new cc.ThresholdSha256Fulfillment(2); // AND gate
  conditionAbort.addSubfulfillment(new cc.Ed25519Fulfillment(testuser2Pub)); // abort address
  conditionAbort.addSubfulfillment(conditionTimeoutInverted);
  conditionEscrow.addSubfulfillment(conditionAbort);

  // Update the condition in the newly created transaction
  txEscrow.transaction.conditions[0]!.condition = {
    details: conditionEscrow.toDict(),
    uri: conditionEscrow.condition.serializeUri(),
  };

  // Conditions have been updated, so the hash needs updating
  txEscrow.id = getHashData(txEscrow);

  // The asset needs to be signed by the owner_before
  const txEscrowSigned = await b.signTransaction(txEscrow, testuser2Priv);

  // Some validations
  checkEqual(await b.validateTransaction(txEscrowSigned), txEscrowSigned, 'validate_transaction (escrow)');

  await b.writeTransaction(txEscrowSigned);
  show('txEscrowSigned', txEscrowSigned);

  // (For the page's last remark, a second asset of testuser2 goes into the same escrow now, and testuser1
  // executes it while the escrow is open: b.signTransaction fills in the branch testuser1's key satisfies.)
  const firstEscrowInput = txRetrievedId;
  const secondEscrowInput = (await b.getOwnedIds(testuser2Pub))
    .filter((input) => !isDeepStrictEqual(input, firstEscrowInput))
    .pop();
  check(secondEscrowInput !== undefined, 'testuser2 owns a second asset');
  const txEscrow2 = b.createTransaction(
    testuser2Pub,
    [testuser2Pub, testuser1Pub],
    secondEscrowInput,
    'TRANSFER',
  );
  txEscrow2.transaction.conditions[0]!.condition = txEscrowSigned.transaction.conditions[0]!.condition;
  txEscrow2.id = getHashData(txEscrow2);
  const txEscrow2Signed = await b.signTransaction(txEscrow2, testuser2Priv);
  await b.writeTransaction(txEscrow2Signed);

  // At any given moment testuser1 and testuser2 can try to fulfill the execute and abort branch respectively.
  // Whether the fulfillment will validate depends on the timeout condition.
  await waitUntil.valid(txEscrowSigned, txEscrow2Signed);

  // In the case of testuser1, we create the execute fulfillment:

  // Create a base template for execute fulfillment
  const txEscrowExecute = b.createTransaction(
    [testuser2Pub, testuser1Pub],
    testuser1Pub,
    { txid: txEscrowSigned.id, cid: 0 },
    'TRANSFER',
  );

  // Parse the Escrow cryptocondition
  let escrowFulfillment = asThreshold(
    cc.Fulfillment.fromDict(txEscrow.transaction.conditions[0]!.condition.details),
  );

  let subfulfillmentTestuser1 = escrowFulfillment.getSubconditionFromVk(testuser1Pub)[0]!;
  let subfulfillmentTestuser2 = escrowFulfillment.getSubconditionFromVk(testuser2Pub)[0]!;
  let subfulfillmentTimeout = subfulfillment(asThreshold(subfulfillment(escrowFulfillment, 0)), 1);
  let subfulfillmentTimeoutInverted = subfulfillment(asThreshold(subfulfillment(escrowFulfillment, 1)), 1);

  // Get the fulfillment message to sign
  const txEscrowExecuteFulfillmentMessage = serializeFulfillmentMessage(
    txEscrowExecute,
    txEscrowExecute.transaction.fulfillments[0]!,
  );

  // Clear the subconditions of the escrow fulfillment
  escrowFulfillment.subconditions = [];

  // Fulfill the execute branch
  const fulfillmentExecute = new cc.ThresholdSha256Fulfillment(2);
  subfulfillmentTestuser1.sign(txEscrowExecuteFulfillmentMessage, testuser1Priv);
  fulfillmentExecute.addSubfulfillment(subfulfillmentTestuser1);
  fulfillmentExecute.addSubfulfillment(subfulfillmentTimeout);
  escrowFulfillment.addSubfulfillment(fulfillmentExecute);

  // Do not fulfill the abort branch
  conditionAbort = new cc.ThresholdSha256Fulfillment(2);
  conditionAbort.addSubfulfillment(subfulfillmentTestuser2);
  conditionAbort.addSubfulfillment(subfulfillmentTimeoutInverted);
  escrowFulfillment.addSubcondition(conditionAbort.condition); // Adding only the condition here

  // Update the execute transaction with the fulfillment
  txEscrowExecute.transaction.fulfillments[0]!.fulfillment = escrowFulfillment.serializeUri();

  // In the case of testuser2, we create the abort fulfillment:

  // Create a base template for abort fulfillment
  const txEscrowAbort = b.createTransaction(
    [testuser2Pub, testuser1Pub],
    testuser2Pub,
    { txid: txEscrowSigned.id, cid: 0 },
    'TRANSFER',
  );

  // Parse the threshold cryptocondition
  escrowFulfillment = asThreshold(
    cc.Fulfillment.fromDict(txEscrow.transaction.conditions[0]!.condition.details),
  );

  subfulfillmentTestuser1 = escrowFulfillment.getSubconditionFromVk(testuser1Pub)[0]!;
  subfulfillmentTestuser2 = escrowFulfillment.getSubconditionFromVk(testuser2Pub)[0]!;
  subfulfillmentTimeout = subfulfillment(asThreshold(subfulfillment(escrowFulfillment, 0)), 1);
  subfulfillmentTimeoutInverted = subfulfillment(asThreshold(subfulfillment(escrowFulfillment, 1)), 1);

  // Get the fulfillment message to sign
  const txEscrowAbortFulfillmentMessage = serializeFulfillmentMessage(
    txEscrowAbort,
    txEscrowAbort.transaction.fulfillments[0]!,
  );

  // Clear the subconditions of the escrow fulfillment
  escrowFulfillment.subconditions = [];

  // Do not fulfill the execute branch
  conditionExecute = new cc.ThresholdSha256Fulfillment(2);
  conditionExecute.addSubfulfillment(subfulfillmentTestuser1);
  conditionExecute.addSubfulfillment(subfulfillmentTimeout);
  escrowFulfillment.addSubcondition(conditionExecute.condition); // Adding only the condition here

  // Fulfill the abort branch
  const fulfillmentAbort = new cc.ThresholdSha256Fulfillment(2);
  subfulfillmentTestuser2.sign(txEscrowAbortFulfillmentMessage, testuser2Priv);
  fulfillmentAbort.addSubfulfillment(subfulfillmentTestuser2);
  fulfillmentAbort.addSubfulfillment(subfulfillmentTimeoutInverted);
  escrowFulfillment.addSubfulfillment(fulfillmentAbort);

  // Update the abort transaction with the fulfillment
  txEscrowAbort.transaction.fulfillments[0]!.fulfillment = escrowFulfillment.serializeUri();

  // (The second escrow: testuser1 executes it in time, and the node accepts the execution.)
  const txEscrow2Execute = await b.signTransaction(
    b.createTransaction(
      [testuser2Pub, testuser1Pub],
      testuser1Pub,
      { txid: txEscrow2Signed.id, cid: 0 },
      'TRANSFER',
    ),
    testuser1Priv,
  );
  await b.writeTransaction(txEscrow2Execute);
  await waitUntil.valid(txEscrow2Execute);

  // The following demonstrates that the transaction validation switches once the timeout occurs:
  const validExecutes: boolean[] = [];
  const validAborts: boolean[] = [];
  for (let i = 0; i < timeSleep + 4 && !lastTwoAre(false, validExecutes); i++) {
    const validExecute = isDeepStrictEqual(await b.isValidTransaction(txEscrowExecute), txEscrowExecute);
    const validAbort = isDeepStrictEqual(await b.isValidTransaction(txEscrowAbort), txEscrowAbort);

    const secondsToTimeout = Math.trunc(Number(timeExpire) - Number(timestamp()));
    console.log(
      `tx_execute valid: ${validExecute} - tx_abort valid ${validAbort} (${secondsToTimeout}s to timeout)`,
    );
    validExecutes.push(validExecute);
    validAborts.push(validAbort);
    await sleep(1000);
  }
  checkSwitch(
    validExecutes,
    true,
    'the execute transaction is valid until the expiry time, invalid after it',
  );
  checkSwitch(validAborts, false, 'the abort transaction is invalid until the expiry time, valid after it');
  const lateExecute = await validationError(b, txEscrowExecute);
  console.log(`executing after the expiry: ${lateExecute?.name}: ${lateExecute?.message}`);
  check(lateExecute instanceof InvalidSignature, 'an expired escrow can no longer be executed');

  // Of course, when the execute transaction was accepted in-time by bigchaindb, then writing the abort
  // transaction after expiry will yield a DoubleSpend error. (The second escrow, executed above.)
  const txEscrow2Abort = await b.signTransaction(
    b.createTransaction(
      [testuser2Pub, testuser1Pub],
      testuser2Pub,
      { txid: txEscrow2Signed.id, cid: 0 },
      'TRANSFER',
    ),
    testuser2Priv,
  );
  const lateAbort = await validationError(b, txEscrow2Abort);
  console.log(`aborting an escrow executed in time: ${lateAbort?.name}: ${lateAbort?.message}`);
  check(lateAbort instanceof DoubleSpend, 'aborting an escrow that was executed in time is a DoubleSpend');
  await b.writeTransaction(txEscrow2Abort);
  const lateAbortRejected = await waitUntil.rejected(txEscrow2Abort);
  console.log(`the node rejected it: ${lateAbortRejected}`);
  check(lateAbortRejected.startsWith('DoubleSpend:'), 'the node rejects the late abort as a DoubleSpend');

  // The abort of the first escrow is what remains valid: testuser2 takes the asset back.
  await b.writeTransaction(txEscrowAbort);
  await waitUntil.valid(txEscrowAbort);
  checkEqual(
    await b.getSpent({ txid: txEscrowSigned.id, cid: 0 }),
    txEscrowAbort,
    'the escrow went back to testuser2',
  );
}

// --- waiting for the node ---------------------------------------------------------------------------------

/** "After a couple of seconds": polls the node's decisions instead of sleeping blindly. */
interface Waiter {
  /** until every transaction is in a block voted valid; fails if the node rejects one */
  valid(...txs: Transaction[]): Promise<void>;
  /** until the node has refused the transaction; its reason */
  rejected(tx: Transaction): Promise<string>;
}

function waiter(b: Bigchain, seconds: number, processedBy: string): Waiter {
  const poll = async <T>(what: string, step: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const done = await step();
      if (done !== undefined) return done;
      if (Date.now() > deadline) {
        throw new ExampleError(`timed out after ${seconds} s waiting for ${what}. ${processedBy}`);
      }
      await sleep(100);
    }
  };
  const rejection = async (tx: Transaction): Promise<string | undefined> =>
    (await b.getTransactionWithStatus(tx.id)).reason;
  return {
    async valid(...txs) {
      let pending = txs;
      await poll(
        `${txs.length === 1 ? 'a transaction' : `${txs.length} transactions`} to be in a valid block`,
        async () => {
          const statuses = await Promise.all(pending.map((tx) => b.getStatus(tx.id)));
          for (const [i, tx] of pending.entries()) {
            const reason = statuses[i] === 'invalid' ? await rejection(tx) : undefined;
            if (reason !== undefined)
              throw new CheckFailed(`the node rejected transaction ${tx.id}: ${reason}`);
          }
          pending = pending.filter((_tx, i) => statuses[i] !== 'valid');
          return pending.length === 0 ? true : undefined;
        },
      );
    },
    rejected(tx) {
      return poll(`the node to reject transaction ${tx.id}`, async () => {
        const status = await b.getStatus(tx.id);
        if (status === 'valid')
          throw new CheckFailed(`the node accepted transaction ${tx.id} into a valid block`);
        return status === 'invalid' ? rejection(tx) : undefined;
      });
    },
  };
}

// --- checks and printing ----------------------------------------------------------------------------------

/** A failure the script reports as its message alone: a bad argument, a node that does not answer. */
class ExampleError extends Error {}

/** An outcome the page describes that did not hold. */
class CheckFailed extends ExampleError {
  constructor(what: string) {
    super(`check failed: ${what}`);
  }
}

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new CheckFailed(what);
}

function checkEqual(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new CheckFailed(
      `${what}\n  expected: ${JSON.stringify(expected)}\n  actual:   ${JSON.stringify(actual)}`,
    );
  }
}

/** Whether a polling loop has seen `value` twice in a row at its end. */
function lastTwoAre(value: boolean, results: readonly boolean[]): boolean {
  return results.length >= 2 && results.slice(-2).every((result) => result === value);
}

/** The results of a polling loop: `first` at first, then once switched never again, ending switched. */
function checkSwitch(results: readonly boolean[], first: boolean, what: string): void {
  const switchedAt = results.indexOf(!first);
  const ok =
    results[0] === first && switchedAt > 0 && results.slice(switchedAt).every((result) => result === !first);
  check(ok, `${what} (saw ${JSON.stringify(results)})`);
}

/** The ValidationError validate_transaction raises for `tx`, or undefined when it is valid. */
async function validationError(b: Bigchain, tx: Transaction): Promise<ValidationError | undefined> {
  try {
    await b.validateTransaction(tx);
    return undefined;
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
}

/** Python's `fulfillment.subconditions[index]['body']`, typed: an entry that is a fulfillment. */
function subfulfillment(threshold: cc.ThresholdSha256Fulfillment, index: number): cc.Fulfillment {
  const body = threshold.subconditions[index]?.body;
  if (!(body instanceof cc.Fulfillment)) throw new CheckFailed(`subcondition ${index} is not a fulfillment`);
  return body;
}

function asThreshold(fulfillment: cc.Fulfillment): cc.ThresholdSha256Fulfillment {
  if (!(fulfillment instanceof cc.ThresholdSha256Fulfillment)) {
    throw new CheckFailed(`expected a threshold fulfillment, got type ${fulfillment.typeId}`);
  }
  return fulfillment;
}

function section(title: string): void {
  console.log(`\n=== ${title} ===\n`);
}

/** What the page's Python shell echoes: the value, as indented JSON. */
function show(name: string, value: unknown): void {
  console.log(`${name} = ${JSON.stringify(value, null, 4)}`);
}

// --- b = Bigchain() ---------------------------------------------------------------------------------------

const USAGE = 'usage: npm run example:server-api -- [-c CONFIG] [--wait SECONDS]';

function parseArguments(argv: readonly string[]): { configPath?: string; waitSeconds: number } {
  const options: { configPath?: string; waitSeconds: number } = { waitSeconds: 60 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if ((flag === '-c' || flag === '--config') && value !== undefined) options.configPath = value;
    else if (flag === '--wait' && value !== undefined && Number(value) > 0)
      options.waitSeconds = Number(value);
    else throw new ExampleError(USAGE);
    i++;
  }
  return options;
}

async function main(argv: readonly string[]): Promise<number> {
  let b: Bigchain | undefined;
  let node: BigchainNode | undefined;
  try {
    const options = parseArguments(argv);
    const { config, path } = await loadConfig(
      options.configPath === undefined ? {} : { path: options.configPath },
    );
    const database = config.database;
    let processedBy: string;
    if (database.backend === 'embedded') {
      // Only this process can open the embedded database: it runs the node itself, as `bigchaindb start` would.
      b = await Bigchain.open(config, { create: true });
      node = await BigchainNode.start(
        b,
        nodeOptions(config, streamLogger(process.stderr, { level: 'warn' })),
      );
      console.log(`Running the node pipelines in this process on the embedded database in ${database.path}`);
      processedBy = 'The node pipelines this script runs did not decide it; see the log above.';
    } else {
      b = await Bigchain.open(config);
      const where = `the PostgreSQL database \`${database.name}\` on ${database.host}:${database.port}`;
      processedBy =
        `Nothing processed the transactions written to ${where}: is a node running on it? ` +
        `Start one with \`bigchaindb -c ${path} start\`; this script only writes to the backlog and reads the chain.`;
      if (!(await b.storage.isInitialized())) {
        throw new ExampleError(`${where} holds no chain yet. ${processedBy}`);
      }
      console.log(`Using the node that runs on ${where}`);
    }
    await serverApiByExample(b, waiter(b, options.waitSeconds, processedBy));
    console.log('\nEvery outcome the page describes was checked.');
    return 0;
  } catch (error) {
    const hint =
      error instanceof KeypairNotFoundException
        ? ' (`bigchaindb start` writes a configuration with one)'
        : '';
    const message = error instanceof ExampleError ? error.message : describe(error);
    console.error(`server-api example: ${message}${hint}`);
    return 1;
  } finally {
    await node?.stop();
    await b?.close();
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

process.exitCode = await main(process.argv.slice(2));
