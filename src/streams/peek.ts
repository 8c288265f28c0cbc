import { asBuffer, type Chunks } from "./chunks.js";

export interface Peeked {
  /** The first chunks, together at least `bytes` long unless the stream is shorter. */
  head: Buffer;
  /** True when the head is the whole stream. */
  ended: boolean;
  /** Every byte of the stream, the head included, to read on with. */
  all: AsyncGenerator<Buffer>;
}

/**
 * Reads the head of a stream (to sniff its type) and gives the whole stream back. A reader of
 * `all` that stops early ends the source, as `for await` would; a source whose iterator has no
 * `return` (one the caller means to drain itself) is left as it is.
 */
export async function peek(source: Chunks, bytes: number): Promise<Peeked> {
  const iterator = source[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = asBuffer(next.value);
    parts.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(parts);
  async function* all(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      while (!ended) {
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          return;
        }
        yield asBuffer(next.value);
      }
    } finally {
      if (!ended) await iterator.return?.();
    }
  }
  return { head, ended, all: all() };
}
