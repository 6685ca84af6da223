/**
 * The schedule requests the API is serving, so a stopping agent can drain them: once draining, new
 * requests are refused (503 with Retry-After, /healthz says "draining") while those in flight finish.
 */
export class InFlight {
  /** Set by drain() and by the API's close(): new schedule requests are refused. */
  draining = false;
  private count = 0;
  private readonly onDrained: Array<() => void> = [];

  /** Run one request (past authentication), counted while it runs. */
  async run(request: () => Promise<void>): Promise<void> {
    this.count++;
    try {
      await request();
    } finally {
      this.count--;
      this.settle();
    }
  }

  /** Refuse new requests; resolves with how many are still in flight when none is (0) or after `timeout_ms`. */
  drain(timeout_ms: number): Promise<number> {
    this.draining = true;
    return new Promise<number>((resolve) => {
      const timer = setTimeout(() => resolve(this.count), timeout_ms);
      this.onDrained.push(() => {
        clearTimeout(timer);
        resolve(0);
      });
      this.settle();
    });
  }

  private settle(): void {
    if (this.count === 0) for (const done of this.onDrained.splice(0)) done();
  }
}
