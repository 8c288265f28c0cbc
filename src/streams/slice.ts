import { asBuffer, type ChunkTransform } from "./chunks.js";

/**
 * Bytes `start` to `end` (inclusive; to the end when omitted) of the stream. Once past `end` it
 * stops reading, which ends the source: the rest is never fetched.
 */
export function sliceBytes(start: number, end?: number): ChunkTransform {
  return async function* (source) {
    if (end !== undefined && end < start) return;
    let position = 0;
    for await (const chunk of source) {
      const data = asBuffer(chunk);
      const from = Math.max(start - position, 0);
      const to = end === undefined ? data.length : Math.min(end + 1 - position, data.length);
      position += data.length;
      if (to > from) yield data.subarray(from, to);
      if (end !== undefined && position > end) return;
    }
  };
}
