import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, it } from "node:test";
import { StreamChecksum } from "../src/streams/checksum.js";
import { limitSize } from "../src/streams/limit.js";
import { peek } from "../src/streams/peek.js";
import { rechunk } from "../src/streams/rechunk.js";
import { sliceBytes } from "../src/streams/slice.js";

const MiB = 1024 * 1024;

/** `data` cut into chunks of the given sizes (the last takes the rest), as a real Readable. */
function chunked(data: Buffer, sizes: number[] = [7, 1, 4096, 65536]): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return Readable.from(chunks, { objectMode: false });
}

/** A source that records how far it was read and whether it was ended early. */
function tracked(chunks: Buffer[]) {
  const state = { yielded: 0, closedEarly: false };
  async function* source(): AsyncGenerator<Buffer> {
    let done = false;
    try {
      for (const chunk of chunks) {
        state.yielded++;
        yield chunk;
      }
      done = true;
    } finally {
      if (!done) state.closedEarly = true;
    }
  }
  return { state, source: source() };
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

const tooLarge = () => new Error("too large");

describe("limitSize", () => {
  it("passes a stream of exactly the limit, however it is chunked", async () => {
    const data = randomBytes(10_000);
    for (const sizes of [[1], [3, 9997], [10_000], [4096]]) {
      const out = await collect(limitSize(10_000, tooLarge)(chunked(data, sizes)));
      assert.deepEqual(Buffer.concat(out), data);
    }
    assert.deepEqual(await collect(limitSize(0, tooLarge)(chunked(Buffer.alloc(0)))), []);
  });

  it("fails at the first byte over the limit, passing nothing of the chunk that crosses it", async () => {
    const passed: Buffer[] = [];
    const limited = limitSize(10, tooLarge)(chunked(Buffer.alloc(11, 1), [6, 5]));
    await assert.rejects(async () => {
      for await (const chunk of limited) passed.push(chunk);
    }, /too large/);
    assert.equal(Buffer.concat(passed).length, 6);
    await assert.rejects(() => collect(limitSize(0, tooLarge)(chunked(Buffer.alloc(1)))), /too large/);
  });

  it("ends its source when it fails", async () => {
    const { state, source } = tracked([Buffer.alloc(5), Buffer.alloc(5), Buffer.alloc(5)]);
    await assert.rejects(() => collect(limitSize(7, tooLarge)(source)), /too large/);
    assert.equal(state.yielded, 2);
    assert.equal(state.closedEarly, true);
  });
});

describe("StreamChecksum", () => {
  for (const size of [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1]) {
    it(`counts and hashes ${size} bytes, passing them unchanged`, async () => {
      const data = randomBytes(size);
      const measured = new StreamChecksum();
      const out = await collect(measured.pass(chunked(data)));
      assert.equal(measured.size, size);
      assert.equal(measured.checksum(), createHash("sha256").update(data).digest("hex"));
      assert.equal(measured.checksum(), createHash("sha256").update(data).digest("hex"), "reading it twice gives the same digest");
      assert.ok(Buffer.concat(out).equals(data));
    });
  }

  it("stands as a pipeline stage", async () => {
    const data = randomBytes(70_000);
    const measured = new StreamChecksum();
    const out: Buffer[] = [];
    await pipeline(chunked(data), (source) => measured.pass(source), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    });
    assert.equal(measured.size, 70_000);
    assert.ok(Buffer.concat(out).equals(data));
  });
});

describe("rechunk", () => {
  const cases: Array<[string, number, number[]]> = [
    ["an exact multiple", 3 * 1024, [1000]],
    ["a multiple and one byte", 3 * 1024 + 1, [1024]],
    ["a multiple less one byte", 3 * 1024 - 1, [5000]],
    ["one block's worth in single bytes", 1024, [1]],
    ["less than one block", 100, [30]],
    ["chunks far larger than a block", 10 * 1024 + 5, [9000]],
  ];
  for (const [what, size, sizes] of cases) {
    it(`regroups ${what} into whole blocks and a shorter last one`, async () => {
      const data = randomBytes(size);
      const blocks = await collect(rechunk(1024)(chunked(data, sizes)));
      assert.ok(Buffer.concat(blocks).equals(data));
      assert.equal(blocks.length, Math.ceil(size / 1024));
      blocks.slice(0, -1).forEach((block) => assert.equal(block.length, 1024));
      assert.equal(blocks.at(-1)!.length, size % 1024 || 1024);
    });
  }

  it("yields nothing for an empty stream and refuses a block size below one byte", async () => {
    assert.deepEqual(await collect(rechunk(1024)(chunked(Buffer.alloc(0)))), []);
    assert.throws(() => rechunk(0), RangeError);
  });
});

describe("sliceBytes", () => {
  const data = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
  const ranges: Array<[number, number | undefined]> = [
    [0, 0],
    [0, 99],
    [10, 10],
    [6, 8],
    [7, 7],
    [7, 8],
    [3, 60],
    [95, undefined],
    [0, undefined],
    [50, 1000],
    [99, 99],
    [100, undefined],
  ];
  for (const [start, end] of ranges) {
    it(`cuts bytes ${start}-${end ?? ""} out of chunks of 7 and 1`, async () => {
      const out = await collect(sliceBytes(start, end)(chunked(data, [7, 1])));
      assert.deepEqual(Buffer.concat(out), data.subarray(start, end === undefined ? undefined : end + 1));
    });
  }

  it("stops reading its source once past the end", async () => {
    const { state, source } = tracked(Array.from({ length: 10 }, () => Buffer.alloc(10)));
    const out = await collect(sliceBytes(5, 24)(source));
    assert.equal(Buffer.concat(out).length, 20);
    assert.equal(state.yielded, 3);
    assert.equal(state.closedEarly, true);
  });

  it("passes the source's error on to the reader", async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(4);
      throw new Error("connection reset");
    }
    await assert.rejects(() => collect(Readable.from(sliceBytes(2, 50)(failing()))), /connection reset/);
  });
});

describe("peek", () => {
  it("reads at least the head and gives every byte back", async () => {
    const data = randomBytes(20_000);
    const { head, ended, all } = await peek(chunked(data, [3000]), 4100);
    assert.equal(head.length, 6000);
    assert.ok(head.equals(data.subarray(0, 6000)));
    assert.equal(ended, false);
    assert.ok(Buffer.concat(await collect(all)).equals(data));
  });

  it("says when the head is the whole stream", async () => {
    const { head, ended, all } = await peek(chunked(Buffer.from("short")), 4100);
    assert.equal(head.toString(), "short");
    assert.equal(ended, true);
    assert.equal(Buffer.concat(await collect(all)).toString(), "short");
    const empty = await peek(chunked(Buffer.alloc(0)), 10);
    assert.equal(empty.head.length, 0);
    assert.deepEqual(await collect(empty.all), []);
  });

  it("ends the source when its reader stops early, unless the source cannot be ended", async () => {
    const { state, source } = tracked(Array.from({ length: 10 }, () => Buffer.alloc(10)));
    const { all } = await peek(source, 15);
    for await (const chunk of all) if (chunk.length > 0) break;
    assert.equal(state.closedEarly, true);

    // An iterator without `return` (a source its owner drains itself) is left to be read on.
    const inner = tracked(Array.from({ length: 10 }, () => Buffer.alloc(10)));
    const endless: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => inner.source.next() }) };
    const peeked = await peek(endless, 15);
    for await (const chunk of peeked.all) if (chunk.length > 0) break;
    assert.equal(inner.state.closedEarly, false);
    assert.equal((await collect(inner.source)).length, 8);
  });
});
