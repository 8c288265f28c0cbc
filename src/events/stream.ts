/**
 * Events pushed by a bus, read by `for await`: what a GraphQL subscription resolver returns.
 * Its `return()` (called when the client stops or the socket drops) runs `onClose` at once, even
 * while a reader is waiting, so the bus's listener goes with the subscriber. An async generator
 * would not do that: its `return()` waits for the pending `next()`.
 */
export class EventStream<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private readonly waiting: Array<(result: IteratorResult<T>) => void> = [];
  private done = false;
  private endAfterQueue = false;
  private onClose: (() => void) | undefined;

  /**
   * @param options.limit most events held for a slow reader; the oldest go first beyond it.
   * @param options.supersedes true when `next` makes a queued `earlier` needless (both say "read afresh").
   */
  constructor(private readonly options: { limit?: number; supersedes?: (earlier: T, next: T) => boolean } = {}) {}

  /** What to run when the stream ends, from either side. */
  setOnClose(onClose: () => void): void {
    if (this.done) onClose();
    else this.onClose = onClose;
  }

  push(value: T, options: { last?: boolean } = {}): void {
    if (this.done || this.endAfterQueue) return;
    const reader = this.waiting.shift();
    if (reader) reader({ value, done: false });
    else {
      const supersedes = this.options.supersedes;
      const index = supersedes ? this.queue.findIndex((earlier) => supersedes(earlier, value)) : -1;
      if (index >= 0) this.queue.splice(index, 1);
      this.queue.push(value);
      if (this.queue.length > (this.options.limit ?? 100)) this.queue.shift();
    }
    if (options.last) {
      this.endAfterQueue = true;
      this.release();
      if (this.queue.length === 0) this.finish();
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length > 0) {
      const value = this.queue.shift()!;
      if (this.endAfterQueue && this.queue.length === 0) this.finish();
      return Promise.resolve({ value, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.queue.length = 0;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const reader of this.waiting.splice(0)) reader({ value: undefined, done: true });
    this.release();
  }

  /** The bus listener goes as soon as no more events are wanted. */
  private release(): void {
    const onClose = this.onClose;
    this.onClose = undefined;
    onClose?.();
  }
}
