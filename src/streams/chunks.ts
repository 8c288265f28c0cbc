/**
 * The stream helpers are pull-based transforms: functions from an async iterable of chunks to an
 * async generator of Buffers. Nothing is read before the consumer asks, so a source's error always
 * reaches the reader; a consumer that stops early ends the chain and (through `for await`) the
 * source; each can stand as a stage in `stream.pipeline` or be wrapped with `Readable.from`.
 */
export type Chunks = AsyncIterable<Uint8Array | string>;
export type ChunkTransform = (source: Chunks) => AsyncGenerator<Buffer>;

/** A chunk as a Buffer (strings as UTF-8), without copying Buffers. */
export function asBuffer(chunk: Uint8Array | string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  return typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
