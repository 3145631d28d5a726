import { createReadStream, createWriteStream, openSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { NodeConfig } from '../config/config.ts';
import { Bigchain } from '../node/bigchain.ts';
import { setReplicas, setShards, type AdminReport } from '../ops/cluster.ts';
import { DatabaseAlreadyExists } from '../storage/errors.ts';
import {
  backup,
  pruneAfterLastValidBlock,
  rebuildDerivedRows,
  restore,
  type BackupProgress,
} from '../ops/index.ts';
import { openStorage, type OpenOptions } from '../storage/open.ts';
import type { Storage } from '../storage/storage.ts';
import {
  commandConfig,
  commandKeyPair,
  databaseLabel,
  refuseForeignChain,
  stderrWarning,
  type CliIO,
  type Context,
} from './context.ts';
import { CliError, describe } from './errors.ts';

async function withStorage<T>(
  config: NodeConfig,
  work: (storage: Storage) => Promise<T>,
  options: OpenOptions = {},
): Promise<T> {
  const storage = await openStorage(config.database, options);
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

/**
 * `init`: the database and this node's genesis block. On a database that exists: the seed's message, or a
 * refusal when its chain belongs to another node or federation (unless --accept-federation-change).
 */
export async function runInit(context: Context): Promise<void> {
  const loaded = await commandConfig(context);
  const cfg = loaded.config;
  const keyPair = commandKeyPair(context, loaded);
  await withStorage(
    cfg,
    async (storage) => {
      const bigchain = new Bigchain({ storage, keyPair, keyring: cfg.keyring });
      const genesis = bigchain.prepareGenesisBlock();
      try {
        await storage.init(genesis);
      } catch (error) {
        if (!(error instanceof DatabaseAlreadyExists)) throw error;
        await refuseForeignChain(bigchain, context, cfg, 'init', stderrWarning(context.io));
        context.io.stderr.write(
          'The database already exists.\nIf you wish to re-initialize it, first drop it.\n',
        );
        return;
      }
      context.io.stdout.write(`Initialized the ${databaseLabel(cfg)}; genesis block ${genesis.id}.\n`);
    },
    { create: true },
  );
}

export async function runDrop(context: Context): Promise<void> {
  const cfg = (await commandConfig(context)).config;
  const name = cfg.database.backend === 'embedded' ? cfg.database.path : cfg.database.name;
  if (!context.options.yes) {
    const prompt = createInterface({ input: context.io.stdin, output: context.io.stdout, terminal: false });
    const answer = await prompt.question(`Do you want to drop \`${name}\` database? [y/n]: `);
    prompt.close();
    if (answer.trim() !== 'y') {
      context.io.stdout.write('Drop aborted\n');
      return;
    }
  }
  await withStorage(cfg, async (storage) => {
    await storage.drop();
    context.io.stdout.write(`Dropped the ${databaseLabel(cfg)}.\n`);
  });
}

async function runAdmin(
  context: Context,
  cfg: NodeConfig,
  count: number,
  action: (storage: Storage, count: number) => Promise<AdminReport>,
): Promise<void> {
  const report = await withStorage(cfg, (storage) => action(storage, count));
  for (const line of report.done) context.io.stdout.write(`${line}\n`);
  for (const line of report.todo) context.io.stdout.write(`To do: ${line}\n`);
}

export async function runSetShards(context: Context): Promise<void> {
  const cfg = (await commandConfig(context)).config;
  return runAdmin(context, cfg, context.args.NUM_SHARDS as number, setShards);
}

export async function runSetReplicas(context: Context): Promise<void> {
  const replicas = context.args.NUM_REPLICAS as number;
  const cfg = (await commandConfig(context)).config;
  // Every commit would wait, for ever, for standbys that cannot connect.
  if (cfg.database.backend === 'embedded' && replicas > 1)
    throw new CliError(
      `set-replicas ${replicas}: the embedded backend's server listens only on a Unix socket in ` +
        `${cfg.database.path}, so no standby can stream from it. Replicas need a PostgreSQL server that the ` +
        'standbys reach (database.backend postgresql; docs/federation.md)',
    );
  return runAdmin(context, cfg, replicas, setReplicas);
}

/** A progress line rewritten in place on a terminal (nothing when stderr is a file or pipe). */
function progressLine(io: CliIO, verb: string): { update: (done: BackupProgress) => void; end: () => void } {
  const stream = io.stderr as Writable & { isTTY?: boolean };
  let shown = false;
  return {
    update: (done) => {
      if (!stream.isTTY) return;
      stream.write(`\r${verb} ${done.blocks} blocks, ${done.votes} votes`);
      shown = true;
    },
    end: () => {
      if (shown) stream.write('\n');
    },
  };
}

/** Opens FILE for the backup, refusing to overwrite one: a backup is worth more than a typo. */
function createBackupFile(file: string): Writable {
  try {
    return createWriteStream(file, { fd: openSync(file, 'wx') });
  } catch (error) {
    throw new CliError(`cannot create ${file}: ${describe(error)}`);
  }
}

export async function runBackup(context: Context): Promise<void> {
  const file = context.args.FILE as string;
  const cfg = (await commandConfig(context)).config;
  const toStdout = file === '-';
  const out = toStdout ? context.io.stdout : createBackupFile(file);
  const progress = progressLine(context.io, 'backed up');
  try {
    // The one command that reads a data directory of the earlier embedded engine: to move its chain over.
    const summary = await withStorage(
      cfg,
      (storage) => backup(storage, out, { onProgress: progress.update }),
      { readLegacy: true },
    );
    progress.end();
    if (!toStdout) {
      out.end();
      await finished(out);
    }
    const where = toStdout ? '' : ` to ${file}`;
    context.io.stderr.write(`Backed up ${summary.blocks} blocks and ${summary.votes} votes${where}.\n`);
  } catch (error) {
    if (!toStdout) {
      out.destroy();
      rmSync(file, { force: true });
    }
    throw error;
  }
}

function openBackupFile(file: string): Readable {
  try {
    return createReadStream(file, { fd: openSync(file, 'r'), encoding: 'utf8' });
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${describe(error)}`);
  }
}

export async function runRestore(context: Context): Promise<void> {
  const file = context.args.FILE as string;
  const cfg = (await commandConfig(context)).config;
  const input = file === '-' ? context.io.stdin : openBackupFile(file);
  const federation = cfg.keypair.public === null ? undefined : [...cfg.keyring, cfg.keypair.public];
  const progress = progressLine(context.io, 'restored');
  const summary = await withStorage(
    cfg,
    (storage) =>
      restore(storage, input, {
        onProgress: progress.update,
        ...(federation === undefined ? {} : { federation }),
      }),
    { create: true },
  );
  progress.end();
  const { droppedBlocks, droppedVotes, droppedTransactions } = summary;
  context.io.stdout.write(
    `Restored ${summary.blocks} blocks and ${summary.votes} votes into the ${databaseLabel(cfg)}.\n` +
      `Kept ${summary.blocks - droppedBlocks} blocks, ${summary.keptTransactions} transactions and ` +
      `${summary.votes - droppedVotes} votes; dropped ${droppedBlocks} blocks, ${droppedTransactions} ` +
      `transactions and ${droppedVotes} votes.\n` +
      `Kept everything up to the last valid block ${summary.lastValidBlock}; dropped ${droppedBlocks} ` +
      `blocks after it and their ${droppedVotes} votes; the backlog is empty.\n`,
  );
}

export async function runPrune(context: Context): Promise<void> {
  const rebuild = context.flags.rebuild === true;
  const cfg = (await commandConfig(context)).config;
  await withStorage(cfg, async (storage) => {
    if (rebuild) {
      const rebuilt = await rebuildDerivedRows(storage);
      context.io.stdout.write(
        `Re-derived ${rebuilt.transactions} transaction, ${rebuilt.outputs} output and ${rebuilt.spends} spend ` +
          `rows from ${rebuilt.blocks} blocks.\n`,
      );
    }
    const pruned = await pruneAfterLastValidBlock(storage);
    context.io.stdout.write(
      `Kept everything up to the last valid block ${pruned.lastValidBlock}; deleted ${pruned.blocks.length} ` +
        `blocks after it, ${pruned.votes} votes on them and ${pruned.backlog} backlog entries; rebuilt the indexes. ` +
        `The deleted blocks held ${pruned.transactions} transactions.\n`,
    );
  });
}
