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

const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5_000;
/** a stage that ran this long before failing starts again from the shortest delay */
const HEALTHY_RUN_MS = 30_000;

/**
 * Runs stages and restarts each one that fails, with its error logged and a growing delay (100 ms to 5 s),
 * so one bad moment — the database restarting, a connection dropped — does not stop the node, and a
 * persistent fault does not spin. Every stage keeps its progress in the database, so a fresh instance
 * resumes where the failed one stopped. (0.6 let a failed pipeline process die for good.)
 */
export class Supervisor {
  private readonly loops: Promise<void>[] = [];
  private readonly running = new Set<Stage>();
  private stopping = false;
  private readonly wakeup = new Wakeup();
  /** restarts so far, by stage name */
  readonly restarts = new Map<string, number>();

  constructor(private readonly log: Logger) {}

  start(name: string, create: () => Stage): void {
    if (this.stopping) throw new BigchainDBError('the node is stopping');
    this.loops.push(this.supervise(name, create));
  }

  /** Stops every stage (each finishes its work in hand) and waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeup.wake();
    await Promise.all([...this.running].map((stage) => stage.stop()));
    await Promise.all(this.loops);
  }

  private async supervise(name: string, create: () => Stage): Promise<void> {
    let delay = RESTART_MIN_MS;
    while (!this.stopping) {
      const stage = create();
      this.running.add(stage);
      const startedAt = Date.now();
      try {
        await stage.run();
        if (this.stopping) break;
        throw new BigchainDBError(`the ${name} stage returned while the node was running`);
      } catch (error) {
        if (this.stopping) break;
        if (Date.now() - startedAt > HEALTHY_RUN_MS) delay = RESTART_MIN_MS;
        const details = error instanceof BigchainDBError ? error.details : {};
        this.log.error(`${name} failed, restarting in ${delay} ms: ${describeError(error)}`, details);
        this.restarts.set(name, (this.restarts.get(name) ?? 0) + 1);
        await stage.stop().catch(() => {});
        await this.wakeup.sleep(delay);
        delay = Math.min(delay * 2, RESTART_MAX_MS);
      } finally {
        this.running.delete(stage);
      }
    }
  }
}
