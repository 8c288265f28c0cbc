import { asBuffer, type ChunkTransform } from "./chunks.js";

/**
 * Passes at most `maxBytes` through (tus' StreamLimiter): the chunk that would go beyond fails
 * the stream with `tooLarge()` instead, before any of it is passed on.
 */
export function limitSize(maxBytes: number, tooLarge: () => Error): ChunkTransform {
  return async function* (source) {
    let size = 0;
    for await (const chunk of source) {
      const data = asBuffer(chunk);
      size += data.length;
      if (size > maxBytes) throw tooLarge();
      yield data;
    }
  };
}
