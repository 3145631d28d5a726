import { BigchainDBError } from '../protocol/errors.ts';
import { describeError, type Logger } from './log.ts';
import { Wakeup } from './wakeup.ts';

/** A long-running part of the node (a pipeline). run() returns only once stop() was called. */
export interface Stage {
  readonly name: string;
  run(): Promise<void>;
  /** asks run() to finish its work in hand and return */
  stop(): Promise<void>;
}

/** How a stage is doing, for health checks and tests. */
export interface StageHealth {
  name: string;
  /** running; restarting after a failure; stalled: failing again and again, reported as an ERROR */
  state: 'running' | 'restarting' | 'stalled';
  /** failures since it last ran for HEALTHY_RUN_MS */
  failuresInARow: number;
  /** restarts since the node started */
  restarts: number;
  /** the last failure, while it is not healthy again */
  lastError?: string;
  /** the block the last failure names, when it names one */
  blockId?: string;
}

const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5_000;
/** a stage that ran this long without failing is healthy again: restart delay and failure count reset */
export const HEALTHY_RUN_MS = 10_000;
/** this many failures in a row, without a healthy run between, and the stage is stalled */
export const STALL_AFTER = 3;

interface Tracked {
  health: StageHealth;
  /** causes already reported as an ERROR in this stall, so each is reported once */
  reported: Set<string>;
}

/**
 * Runs stages and restarts each one that fails, with a growing delay (100 ms to 5 s), so one bad moment —
 * the database restarting, a connection dropped — does not stop the node, and a persistent fault does not
 * spin. Every stage keeps its progress in the database, so a fresh instance resumes where the failed one
 * stopped. (0.6 let a failed pipeline process die for good.)
 *
 * A restart is a WARN. A stage that fails STALL_AFTER times in a row is stalled: that is an ERROR, once per
 * cause, naming the block when the error does, and the stage's health says so until it has run
 * HEALTHY_RUN_MS without failing (then an INFO). Restarting the same deterministic failure must not look like
 * a node at work: see docs/node.md, "When a stage cannot make progress".
 */
export class Supervisor {
  private readonly loops: Promise<void>[] = [];
  private readonly running = new Set<Stage>();
  private stopping = false;
  private readonly wakeup = new Wakeup();
  private readonly tracked = new Map<string, Tracked>();

  private readonly healthyRunMs: number;

  private readonly onRestart: ((stage: string) => void) | undefined;

  constructor(
    private readonly log: Logger,
    options: {
      healthyRunMs?: number;
      /** told of each restart, by stage name (the node's metrics) */
      onRestart?: (stage: string) => void;
    } = {},
  ) {
    this.healthyRunMs = options.healthyRunMs ?? HEALTHY_RUN_MS;
    this.onRestart = options.onRestart;
  }

  start(name: string, create: () => Stage): void {
    if (this.stopping) throw new BigchainDBError('the node is stopping');
    this.tracked.set(name, {
      health: { name, state: 'running', failuresInARow: 0, restarts: 0 },
      reported: new Set(),
    });
    this.loops.push(this.supervise(name, create));
  }

  /** restarts so far, by stage name */
  get restarts(): ReadonlyMap<string, number> {
    return new Map([...this.tracked].map(([name, { health }]) => [name, health.restarts]));
  }

  /** Every stage's health, in start order. */
  health(): StageHealth[] {
    return [...this.tracked.values()].map(({ health }) => ({ ...health }));
  }

  /** Stops every stage (each finishes its work in hand) and waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeup.wake();
    await Promise.all([...this.running].map((stage) => stage.stop()));
    await Promise.all(this.loops);
  }

  private async supervise(name: string, create: () => Stage): Promise<void> {
    const tracked = this.tracked.get(name)!;
    let delay = RESTART_MIN_MS;
    while (!this.stopping) {
      const stage = create();
      this.running.add(stage);
      const healthy = setTimeout(() => {
        delay = RESTART_MIN_MS;
        this.recovered(tracked);
      }, this.healthyRunMs);
      try {
        await stage.run();
        if (this.stopping) break;
        throw new BigchainDBError(`the ${name} stage returned while the node was running`);
      } catch (error) {
        if (this.stopping) break;
        clearTimeout(healthy);
        this.failed(tracked, error, delay);
        await stage.stop().catch(() => {});
        await this.wakeup.sleep(delay);
        delay = Math.min(delay * 2, RESTART_MAX_MS);
      } finally {
        clearTimeout(healthy);
        this.running.delete(stage);
      }
    }
  }

  private failed(tracked: Tracked, error: unknown, delay: number): void {
    const { health } = tracked;
    const cause = describeError(error);
    const details = error instanceof BigchainDBError ? error.details : {};
    const blockId = typeof details.blockId === 'string' ? details.blockId : undefined;
    health.failuresInARow++;
    health.restarts++;
    this.onRestart?.(health.name);
    health.lastError = cause;
    if (blockId === undefined) delete health.blockId;
    else health.blockId = blockId;
    if (health.failuresInARow < STALL_AFTER) {
      health.state = 'restarting';
      this.log.warn(`${health.name} failed, restarting in ${delay} ms: ${cause}`, details);
      return;
    }
    health.state = 'stalled';
    const key = `${blockId ?? ''} ${cause}`;
    if (tracked.reported.has(key)) {
      this.log.debug(`${health.name} failed again (${health.failuresInARow} in a row): ${cause}`, details);
      return;
    }
    tracked.reported.add(key);
    const where = blockId === undefined ? '' : ` on block ${blockId}`;
    this.log.error(
      `the ${health.name} stage cannot make progress${where}: it failed ${health.failuresInARow} times in a row, ` +
        `last with ${cause}; retrying every ${RESTART_MAX_MS / 1000} s at most (see docs/node.md, "When a stage cannot make progress")`,
      // The error itself too: its stack and cause chain say where it came from.
      { ...details, err: error },
    );
  }

  private recovered(tracked: Tracked): void {
    const { health } = tracked;
    if (health.state === 'stalled') {
      this.log.info(`the ${health.name} stage runs again after ${health.failuresInARow} failures in a row`);
    }
    health.state = 'running';
    health.failuresInARow = 0;
    delete health.lastError;
    delete health.blockId;
    tracked.reported.clear();
  }
}
