/** Sleeps that end early when woken: how a stage waits for work, a deadline or stop(), whichever is first. */
export class Wakeup {
  private readonly sleepers = new Set<() => void>();

  /** Resolves after `ms` (never, for Infinity) or at the next wake(). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined;
      this.sleepers.add(done);
    });
  }

  wake(): void {
    for (const done of [...this.sleepers]) done();
  }
}
