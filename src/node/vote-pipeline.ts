import type { Block } from '../protocol/block.ts';
import { BigchainDBError } from '../protocol/errors.ts';
import type { Vote } from '../protocol/vote.ts';
import type { Changefeed } from '../storage/changefeed.ts';
import type { StoredBlock } from '../storage/storage.ts';
import type { Bigchain } from './bigchain.ts';
import type { BoundedSet } from './bounded-set.ts';
import { selectTransactions } from './block-builder.ts';
import { describeError, type Logger } from './log.ts';
import type { NodeMetrics } from './metrics.ts';
import type { SetAside } from './set-aside.ts';
import type { Stage } from './supervisor.ts';
import type { VerifiedSignatures } from './verified-signatures.ts';
import type { VerifyPool } from './verify-pool.ts';

const CATCH_UP_BATCH = 20;

/**
 * The vote pipeline: this node votes once on every block it is a voter of — first the ones written while it
 * was down (catch-up), then each new one from the block changefeed — chaining `previous_block` in the order
 * it votes. A block is valid when its hash and signature check, its creator is a federation node, and each
 * transaction is valid against the chain without that block (signatures on the worker pool, each one
 * checked once per node). A block this node wrote itself is not checked again, neither its hash and
 * signature nor its transactions: it validated them when it packed them. The votes of a batch of
 * blocks are written together; the (block, voter) key makes a second vote impossible. A block that cannot be
 * checked (the check fails, rather than finding it invalid) is set aside and retried, not voted on: a vote is
 * final, and the blocks after it go on.
 */
export class VotePipeline implements Stage {
  readonly name = 'vote';
  private feed: Changefeed<StoredBlock> | undefined;
  private stopping = false;
  private lastVoted = '';
  private genesis = '';
  /** votes cast by this instance (for tests and the benchmark) */
  votesCast = 0;

  /** voteOn calls one at a time: each chains previous_block to the one before */
  private voting: Promise<void> = Promise.resolve();

  constructor(
    private readonly bigchain: Bigchain,
    private readonly pool: VerifyPool,
    private readonly verified: VerifiedSignatures,
    private readonly builtBlocks: BoundedSet<string>,
    private readonly log: Logger,
    /** blocks this stage could not check, retried when due (kept by the node across restarts) */
    private readonly setAside: SetAside,
    private readonly metrics: NodeMetrics,
  ) {}

  async run(): Promise<void> {
    const storage = this.bigchain.storage;
    this.genesis = await storage.genesisBlockId();
    this.lastVoted = (await this.bigchain.getLastVotedBlock()).id;
    // Blocks committed after this position come through the feed; the ones before, through the catch-up.
    const feed = storage.blockFeed({
      after: await storage.feedHead(),
      batchSize: CATCH_UP_BATCH,
      onError: (error) => this.log.warn(`block changefeed: ${describeError(error)}; retrying`),
    });
    this.feed = feed;
    if (this.stopping) return;
    await this.setAside.runWithRetries({
      main: async () => {
        let afterSeq = '0';
        for (;;) {
          const unvoted = await storage.unvotedBlocks(this.bigchain.me, { afterSeq, limit: CATCH_UP_BATCH });
          const last = unvoted.at(-1);
          if (last === undefined || this.stopping) break;
          await this.voteOn(unvoted);
          afterSeq = last.seq;
        }
        for await (const stored of feed) await this.voteOnUnvoted(stored);
      },
      retry: (due) => this.retry(due),
      interrupt: () => feed.close(),
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.feed?.close();
  }

  /** Checks the blocks set aside again, those whose retry came due. */
  private async retry(due: readonly string[]): Promise<void> {
    const stored = await this.bigchain.storage.getBlocks(due);
    // Gone (pruned) since: nothing left to vote on.
    for (const id of due) if (!stored.has(id)) await this.setAside.attempt(id, async () => {});
    await this.voteOnUnvoted([...stored.values()], { retry: true });
  }

  private async voteOnUnvoted(
    blocks: readonly StoredBlock[],
    options: { retry?: boolean } = {},
  ): Promise<void> {
    const votes = await this.bigchain.storage.getVotes(blocks.map((block) => block.id));
    const mine = (id: string) => (votes.get(id) ?? []).some((v) => v.vote.node_pubkey === this.bigchain.me);
    await this.voteOn(
      blocks.filter((block) => !mine(block.id)),
      options,
    );
  }

  /** Votes on the blocks, one call at a time; a block that cannot be checked is set aside, not voted on. */
  private voteOn(blocks: readonly StoredBlock[], options: { retry?: boolean } = {}): Promise<void> {
    const next = this.voting.then(() => this.castVotes(blocks, options));
    this.voting = next.catch(() => {});
    return next;
  }

  private async castVotes(blocks: readonly StoredBlock[], options: { retry?: boolean }): Promise<void> {
    const votes: Vote[] = [];
    for (const stored of blocks) {
      // A block this node built is voted on by its id without being parsed (its voters are the federation,
      // this node included); any other is parsed and named by the id it carries, which its check verifies.
      const built = this.builtBlocks.has(stored.id);
      const id = built ? stored.id : stored.block.id;
      if (id === this.genesis || !(built || stored.block.block.voters.includes(this.bigchain.me))) continue;
      if (!options.retry && this.setAside.has(id)) continue;
      const started = performance.now();
      const check: { reason: string | null } = { reason: null };
      const checked = await this.setAside.attempt(id, async () => {
        check.reason = built ? null : await this.invalidReason(stored.block);
      });
      if (!checked) continue;
      const { reason } = check;
      this.log.debug(`checked block ${id} in ${Math.round(performance.now() - started)} ms`);
      votes.push(this.bigchain.vote(id, this.lastVoted, reason === null, reason));
      this.lastVoted = id;
      if (reason !== null) this.log.warn(`Voting block ${id} invalid: ${reason}`);
    }
    if (votes.length === 0) return;
    const { duplicates } = await this.bigchain.storage.writeVotes(votes);
    this.votesCast += votes.length - duplicates.length;
    const alreadyVoted = new Set(duplicates);
    const cast = votes.filter((vote) => !alreadyVoted.has(vote.vote.voting_for_block));
    const valid = cast.filter((vote) => vote.vote.is_block_valid).length;
    this.metrics.votesWritten(valid, cast.length - valid);
    if (duplicates.length > 0)
      this.log.warn(`${duplicates.length} blocks already had a vote from this node`, { duplicates });
  }

  /**
   * null when a block another node built is valid, else why not (the vote's invalid_reason). One this node
   * built is not checked (castVotes): built and signed here from transactions validated against the chain,
   * they stay valid, since storage refuses any later block that conflicts with them; the vote names it by its
   * id, the hash of what this node built, so the stored copy need not be hashed and checked again.
   */
  private async invalidReason(block: Block): Promise<string | null> {
    try {
      this.bigchain.consensus.validateBlock(this.bigchain.federation, block);
    } catch (error) {
      if (error instanceof BigchainDBError) return describeError(error);
      throw error;
    }
    const { rejected } = await selectTransactions(this.bigchain, this.pool, block.block.transactions, {
      exceptBlock: block.id,
      verified: this.verified,
    });
    const first = rejected[0];
    if (first === undefined) return null;
    const txid = (first.transaction as { id?: unknown } | null)?.id;
    return `transaction ${String(txid)}: ${describeError(first.reason)}`;
  }
}
