import { shellBlock, type Block } from '../protocol/block.ts';
import { BLOCK_INVALID, BLOCK_VALID, decidedStatus } from '../protocol/election.ts';
import type { Vote } from '../protocol/vote.ts';
import type { Changefeed } from '../storage/changefeed.ts';
import type { StoredVote } from '../storage/storage.ts';
import type { Bigchain } from './bigchain.ts';
import { describeError, type Logger } from './log.ts';
import type { Decision, NodeMetrics } from './metrics.ts';
import type { SetAside } from './set-aside.ts';
import type { Stage } from './supervisor.ts';

const CATCH_UP_BATCH = 500;
const VERDICT_CACHE_LIMIT = 100_000;

/**
 * The election: whenever votes arrive, each undecided block they are for is counted (0.6
 * block_election_status) and, once the outcome is final, recorded — valid, or invalid with its
 * transactions requeued to the other nodes. Every node runs it; storage lets only the first recording of a
 * decision through, so each transaction is requeued once however many nodes count the same votes. Undecided
 * blocks are recounted at start, which covers votes that arrived while this node was down. A block that
 * cannot be counted (two votes by one node, say) is set aside and retried; the blocks after it go on.
 */
export class ElectionPipeline implements Stage {
  readonly name = 'election';
  private feed: Changefeed<StoredVote> | undefined;
  private stopping = false;
  /** signature verdicts by vote text: a vote is checked once however often its block is recounted */
  private readonly verdicts = new Map<string, boolean>();

  constructor(
    private readonly bigchain: Bigchain,
    private readonly log: Logger,
    /** blocks this stage could not count, retried when due (kept by the node across restarts) */
    private readonly setAside: SetAside,
    private readonly metrics: NodeMetrics,
  ) {}

  async run(): Promise<void> {
    const storage = this.bigchain.storage;
    const feed = storage.voteFeed({
      after: await storage.feedHead(),
      onError: (error) => this.log.warn(`vote changefeed: ${describeError(error)}; retrying`),
    });
    this.feed = feed;
    if (this.stopping) return;
    await this.setAside.runWithRetries({
      main: async () => {
        let afterSeq = '0';
        for (;;) {
          const undecided = await storage.undecidedBlocks({ afterSeq, limit: CATCH_UP_BATCH });
          const last = undecided.at(-1);
          if (last === undefined || this.stopping) break;
          await this.count(undecided.map((block) => block.id));
          afterSeq = last.seq;
        }
        for await (const votes of feed) {
          await this.count([...new Set(votes.map((stored) => stored.vote.vote.voting_for_block))]);
        }
      },
      retry: (due) => this.count(due, { retry: true }),
      interrupt: () => feed.close(),
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.feed?.close();
  }

  /**
   * Counts the votes of each of the blocks still undecided and records the decisions. A block that cannot
   * be counted is set aside (the others go on); only a retry counts a block set aside.
   */
  private async count(blockIds: readonly string[], options: { retry?: boolean } = {}): Promise<void> {
    const storage = this.bigchain.storage;
    const ids = options.retry ? blockIds : blockIds.filter((id) => !this.setAside.has(id));
    if (ids.length === 0) return;
    const voters = await storage.undecidedBlockVoters(ids);
    if (options.retry) {
      // Decided meanwhile (by another node): nothing left to do for it here.
      for (const id of ids) if (!voters.has(id)) await this.setAside.attempt(id, async () => {});
    }
    if (voters.size === 0) return;
    const votes = await storage.getVotes([...voters.keys()]);
    for (const [id, blockVoters] of voters) {
      const cast = votes.get(id) ?? [];
      if (cast.length === 0) continue;
      await this.setAside.attempt(id, () => this.decide(shellBlock(id, blockVoters), cast));
    }
  }

  private async decide(block: Block, cast: readonly StoredVote[]): Promise<void> {
    const storage = this.bigchain.storage;
    const id = block.id;
    const status = decidedStatus(
      block,
      cast.map((stored) => stored.vote),
      this.verifier(cast),
    );
    if (status === BLOCK_VALID && (await storage.markBlockValid(id))) {
      await this.recordDecision('valid', id);
      this.log.info(`Block ${id} is valid`);
    } else if (status === BLOCK_INVALID) {
      const others = this.bigchain.nodesExceptMe;
      const { decided, requeued } = await storage.invalidateBlock(
        id,
        others.length > 0 ? others : [this.bigchain.me],
      );
      if (decided) {
        await this.recordDecision('invalid', id);
        this.log.info(`Rewriting ${requeued.length} transactions from invalid block ${id}`);
      }
    }
  }

  private async recordDecision(result: Decision, id: string): Promise<void> {
    const { transactions, timestamp } = await this.bigchain.storage.blockSizeAndTime(id);
    this.metrics.blockDecided(result, transactions, Math.max(0, Date.now() / 1000 - Number(timestamp)));
  }

  /** Signature checks remembered by the vote's stored text, which includes the block id it is for. */
  private verifier(cast: readonly StoredVote[]): (block: Block, vote: Vote) => boolean {
    const texts = new Map(cast.map((stored) => [stored.vote, stored.text]));
    return (block, vote) => {
      const text = texts.get(vote);
      const known = text === undefined ? undefined : this.verdicts.get(text);
      if (known !== undefined) return known;
      const verdict = this.bigchain.consensus.verifyVoteSignature(block, vote);
      if (text !== undefined) {
        if (this.verdicts.size >= VERDICT_CACHE_LIMIT) this.verdicts.clear();
        this.verdicts.set(text, verdict);
      }
      return verdict;
    };
  }
}
