import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import v8 from "node:v8";
import vm from "node:vm";
import { MiB } from "../harness/settings.js";

/** The storage benchmark's data: generated without allocating, streamed, hashed on the way back. */

/** Slack after the first MiB of POOL: chunk i starts at (i * STRIDE) % SLACK, so no two of 4096 chunks are alike. */
const SLACK = 4096;
const STRIDE = 997;
/** Random bytes, never written to after this: chunks are views of it, so consumers may keep them. */
const POOL = randomBytes(MiB + SLACK);

/**
 * `size` bytes in 1 MiB chunks, each a view of POOL at its own offset: nothing is allocated per
 * chunk (the benchmark adds no garbage of its own to what it measures), yet a chunk that went
 * missing, came twice or out of order changes the sha256.
 */
function* chunks(size: number): Generator<Buffer> {
  for (let offset = 0, index = 0; offset < size; offset += MiB, index++) {
    const start = (index * STRIDE) % SLACK;
    yield POOL.subarray(start, start + Math.min(MiB, size - offset));
  }
}

export function source(size: number): Readable {
  return Readable.from(chunks(size), { objectMode: false, highWaterMark: MiB });
}

const expectedHashes = new Map<number, string>();

export function expectedHash(size: number): string {
  let hash = expectedHashes.get(size);
  if (hash === undefined) {
    const h = createHash("sha256");
    for (const chunk of chunks(size)) h.update(chunk);
    hash = h.digest("hex");
    expectedHashes.set(size, hash);
  }
  return hash;
}

export async function consume(stream: Readable): Promise<{ bytes: number; sha256: string }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: h.digest("hex") };
}

/** "256 MiB": how the storage benchmark names sizes. */
export const sizeLabel = (bytes: number) => `${Math.round(bytes / MiB)} MiB`;
export const fmtMiB = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/** A full GC between measurements, so that one run's garbage is not collected during the next. */
export const gc: () => void = (() => {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
})();
