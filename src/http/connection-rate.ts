/** A minute's window: how many connections each remote address may open in it. */
const WINDOW_MS = 60_000;

/**
 * Counts new connections per remote address in fixed one-minute windows. Fixed windows let a
 * client open up to twice the limit across a boundary; for refusing floods that is precise enough,
 * and it keeps one small record per address, dropped once its window is over.
 */
export class ConnectionRate {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly perMinute: number) {
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [address, window] of this.windows) if (now - window.start >= WINDOW_MS) this.windows.delete(address);
    }, WINDOW_MS);
    this.sweep.unref();
  }

  /** Counts a connection; false when the address has used up its minute (the connection is refused). */
  admit(address: string): boolean {
    const now = Date.now();
    let window = this.windows.get(address);
    if (!window || now - window.start >= WINDOW_MS) this.windows.set(address, (window = { start: now, count: 0 }));
    window.count += 1;
    return window.count <= this.perMinute;
  }

  /** Seconds until the address may connect again. */
  retryAfterSeconds(address: string): number {
    const window = this.windows.get(address);
    return window ? Math.max(1, Math.ceil((window.start + WINDOW_MS - Date.now()) / 1000)) : 1;
  }

  close(): void {
    clearInterval(this.sweep);
  }
}
