import { asBuffer, type ChunkTransform } from "./chunks.js";

/** Regroups chunks into blocks of exactly `size` bytes, the last one shorter (tus' StreamSplitter, in memory). */
export function rechunk(size: number): ChunkTransform {
  if (!(size >= 1)) throw new RangeError("rechunk needs a block size of at least 1 byte");
  return async function* (source) {
    let pending: Buffer[] = [];
    let length = 0;
    for await (const chunk of source) {
      let data = asBuffer(chunk);
      while (length + data.length >= size) {
        const take = size - length;
        pending.push(data.subarray(0, take));
        yield Buffer.concat(pending);
        pending = [];
        length = 0;
        data = data.subarray(take);
      }
      if (data.length > 0) {
        pending.push(data);
        length += data.length;
      }
    }
    if (length > 0) yield Buffer.concat(pending);
  };
}
