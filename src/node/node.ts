import { availableParallelism } from 'node:os';
import type { NodeConfig } from '../config/config.ts';
import { Bigchain, GenesisBlockAlreadyExistsError } from './bigchain.ts';
import { BlockPipeline } from './block-pipeline.ts';
import { BoundedSet } from './bounded-set.ts';
import { ElectionPipeline } from './election-pipeline.ts';
import { describeError, silentLogger, type Logger } from './log.ts';
import { NodeMetrics } from './metrics.ts';
import { StalePipeline } from './stale-pipeline.ts';
import { SetAside, type SetAsideItem, type SetAsideOptions } from './set-aside.ts';
import { Supervisor, type StageHealth } from './supervisor.ts';
import { VerifiedSignatures } from './verified-signatures.ts';
import { VerifyPool } from './verify-pool.ts';
import { VotePipeline } from './vote-pipeline.ts';

export interface NodeOptions {
  /** transactions per block at most (default 1000) */
  blockSize?: number;
  /** ms the first transaction of a block waits for it to fill (default 1000) */
  blockTimeoutMs?: number;
  /** ms before a waiting backlog transaction is given to another node (default 30 000) */
  reassignDelayMs?: number;
  /** signature-check worker threads (default: one per core) */
  verifyWorkers?: number;
  /** when a block or transaction a stage cannot process is reported and retried */
  setAside?: SetAsideOptions;
  /** where the pipelines count what they do (default: a registry of the node's own) */
  metrics?: NodeMetrics;
  log?: Logger;
}

export interface NodeHealth {
  /** false while a stage is stalled or something is set aside */
  ready: boolean;
  stages: StageHealth[];
  /** what the stages could not process, reported and retried */
  setAside: SetAsideItem[];
  /** items reported as set aside since the node started */
  setAsideTotal: number;
}

export const DEFAULT_BLOCK_SIZE = 1000;

/** One check of `GET /readyz`: what is checked, and why it fails. */
export interface ReadinessCheck {
  name: 'database' | 'pipelines' | 'signature workers';
  ok: boolean;
  reason?: string;
}

export interface Readiness {
  ready: boolean;
  checks: ReadinessCheck[];
}

/** How long the database may take to answer a readiness check. */
const READINESS_TIMEOUT_MS = 2_000;

/** The readiness check of a verify pool. */
export function signatureWorkersCheck(pool: VerifyPool): ReadinessCheck {
  const reason = pool.unavailable();
  return reason === undefined
    ? { name: 'signature workers', ok: true }
    : { name: 'signature workers', ok: false, reason };
}
const BUILT_BLOCKS_REMEMBERED = 10_000;

/** The options a node configuration sets. */
export function nodeOptions(config: NodeConfig, log: Logger): NodeOptions {
  return {
    blockTimeoutMs: config.block_timeout * 1000,
    reassignDelayMs: config.backlog_reassign_delay * 1000,
    log,
  };
}

/**
 * A running node: the block, vote, election and stale pipelines over one Bigchain, under a supervisor
 * that restarts a failed one, sharing one signature-check pool and one memory of verified signatures.
 *
 * @example
 * ```ts
 * import { Bigchain, BigchainNode, generateKeyPair } from 'bigchaindb';
 *
 * const b = await Bigchain.open();
 * const node = await BigchainNode.start(b); // what `bigchaindb start` runs, without the HTTP API
 * const tx = await b.signAsNode(b.createTransaction(b.me, generateKeyPair().publicKey, null, 'CREATE'));
 * await b.writeTransaction(tx); // the block pipeline packs it, the vote pipeline votes, the election decides
 * console.log(node.health());
 * await node.stop();
 * await b.close();
 * ```
 */
export class BigchainNode {
  private constructor(
    readonly bigchain: Bigchain,
    /** the signature-check workers, shared with the HTTP API in the same process */
    readonly pool: VerifyPool,
    /** signatures already found good, shared with the HTTP API in the same process */
    readonly verified: VerifiedSignatures,
    /** what the pipelines count (GET /metrics) */
    readonly metrics: NodeMetrics,
    private readonly supervisor: Supervisor,
    private readonly setAside: readonly SetAside[],
  ) {}

  /** Starts the pipelines; writes the genesis block first when the database is empty. */
  static async start(bigchain: Bigchain, options: NodeOptions = {}): Promise<BigchainNode> {
    const log = options.log ?? silentLogger;
    try {
      await bigchain.createGenesisBlock();
      log.info('Created the database and its genesis block');
    } catch (error) {
      if (!(error instanceof GenesisBlockAlreadyExistsError)) throw error;
    }
    const metrics = options.metrics ?? new NodeMetrics();
    const pool = new VerifyPool(options.verifyWorkers ?? availableParallelism(), {
      onChecked: (jobs) => metrics.signaturesChecked(jobs),
    });
    try {
      await pool.ready();
    } catch (error) {
      await pool.close();
      throw error;
    }
    const verified = new VerifiedSignatures();
    const builtBlocks = new BoundedSet<string>(BUILT_BLOCKS_REMEMBERED);
    const supervisor = new Supervisor(log, { onRestart: (stage) => metrics.pipelineRestarted(stage) });
    metrics.observe({
      backlogSize: () => bigchain.storage.backlogSize(),
      verifyPoolPending: () => pool.pendingJobs,
    });
    const blockOptions = {
      blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
      timeoutMs: options.blockTimeoutMs ?? 1_000,
    };
    const setAside = {
      block: new SetAside('block', 'transaction', log.child('block'), options.setAside),
      vote: new SetAside('vote', 'block', log.child('vote'), options.setAside),
      election: new SetAside('election', 'block', log.child('election'), options.setAside),
    };
    supervisor.start(
      'block',
      () =>
        new BlockPipeline(
          bigchain,
          pool,
          verified,
          builtBlocks,
          log.child('block'),
          blockOptions,
          setAside.block,
          metrics,
        ),
    );
    supervisor.start(
      'vote',
      () =>
        new VotePipeline(bigchain, pool, verified, builtBlocks, log.child('vote'), setAside.vote, metrics),
    );
    supervisor.start(
      'election',
      () => new ElectionPipeline(bigchain, log.child('election'), setAside.election, metrics),
    );
    supervisor.start(
      'stale',
      () => new StalePipeline(bigchain, log.child('stale'), options.reassignDelayMs ?? 30_000, metrics),
    );
    return new BigchainNode(bigchain, pool, verified, metrics, supervisor, Object.values(setAside));
  }

  /** Transactions whose signatures the worker pool has checked. */
  get signaturesChecked(): number {
    return this.pool.checked;
  }

  /** How often each stage has been restarted after a failure. */
  get restarts(): ReadonlyMap<string, number> {
    return this.supervisor.restarts;
  }

  /**
   * Whether the pipelines make progress: ready unless a stage is stalled (failing again and again) or a
   * block or transaction has been set aside as one a stage cannot process (docs/node.md).
   */
  health(): NodeHealth {
    const stages = this.supervisor.health();
    const setAside = this.setAside.flatMap((items) => items.reported());
    return {
      ready: stages.every((stage) => stage.state !== 'stalled') && setAside.length === 0,
      stages,
      setAside,
      setAsideTotal: this.setAside.reduce((total, items) => total + items.reportedTotal, 0),
    };
  }

  /**
   * Whether the node can do its work now (`GET /readyz`): its database answers, every pipeline runs (none
   * restarting after a failure, none stalled), its signature-check workers are loaded. Each check is named
   * with why it fails.
   */
  async readiness(): Promise<Readiness> {
    const database = await this.bigchain.storage.ping(READINESS_TIMEOUT_MS).then(
      () => undefined,
      (error: unknown) => `the database does not answer: ${describeError(error)}`,
    );
    const failing = this.supervisor.health().filter((stage) => stage.state !== 'running');
    const pipelines =
      failing.length === 0
        ? undefined
        : failing
            .map((stage) => `${stage.name} ${stage.state}${stage.lastError ? ` (${stage.lastError})` : ''}`)
            .join(', ');
    const checks: ReadinessCheck[] = [
      { name: 'database', ...(database === undefined ? { ok: true } : { ok: false, reason: database }) },
      { name: 'pipelines', ...(pipelines === undefined ? { ok: true } : { ok: false, reason: pipelines }) },
      signatureWorkersCheck(this.pool),
    ];
    return { ready: checks.every((check) => check.ok), checks };
  }

  /**
   * Stops the pipelines — a block being written is finished, transactions not yet in a block stay in the
   * backlog — then the worker pool, and sends what metrics are buffered. The Bigchain (and its database)
   * stays open: its owner closes it.
   */
  async stop(): Promise<void> {
    await this.supervisor.stop();
    await this.pool.close();
    await this.metrics.close();
  }
}
