// Draining: once started, readiness is false and new requests get 503; the in-flight ones are counted
// so shutdown can wait for them (up to --drain-timeout-secs).

export class Lifecycle {
  /** Static pods not yet answering their health endpoint at start (--worker-startup-timeout-secs): not ready. */
  waitingForPods = false;
  private inFlightCount = 0;
  private drainingSince: number | undefined;
  private idleWaiters: (() => void)[] = [];

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  begin(): void {
    this.inFlightCount++;
  }

  end(): void {
    this.inFlightCount--;
    if (this.inFlightCount === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private readonly cuts = new Set<() => void>();

  /** Registers what ends a stream cleanly when the drain deadline passes; returns its unregistration. */
  onCut(cut: () => void): () => void {
    this.cuts.add(cut);
    return () => this.cuts.delete(cut);
  }

  /** The drain deadline passed: every stream still relayed ends now (SSE with an error event). */
  cutAll(): void {
    for (const cut of [...this.cuts]) cut();
  }

  startDraining(): void {
    this.drainingSince ??= Date.now();
  }

  /** Resolves true when nothing is in flight, false when the deadline passed first. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlightCount === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
        resolve(false);
      }, timeoutMs);
      const onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(onIdle);
    });
  }
}
