import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, it } from "node:test";
import { StorageError, type Storage } from "../../src/storage/contract.js";

export interface StorageUnderTest {
  storage: Storage;
  /** The same backend with overwriting allowed. */
  overwriting: Storage;
  /** True for backends that keep files on local disk (path() gives a path). */
  local: boolean;
  /** Which times beside the modification time the backend records (the others are NOT_SUPPORTED). */
  times: { created: boolean; accessed: boolean };
}

const MiB = 1024 * 1024;

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const bytes = (s: string) => Readable.from([Buffer.from(s)]);
const read = async (storage: Storage, name: string, range?: { start?: number; end?: number }) => buffer(await storage.open(name, range));
const hasCode = (code: string) => (err: unknown) => err instanceof StorageError && err.code === code;

/** Streams `size` pseudo-random bytes in 64 KiB chunks, never holding them all. */
function randomStream(size: number, seed: number): { stream: Readable; digest: () => string } {
  const hash = createHash("sha256");
  const block = randomBytes(64 * 1024);
  let sent = 0;
  let counter = seed;
  const stream = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(block.length, size - sent);
      const chunk = Buffer.from(block.subarray(0, n));
      if (n >= 4) chunk.writeUInt32LE(counter++ >>> 0, 0);
      hash.update(chunk);
      sent += n;
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest("hex") };
}

/**
 * The storage contract, run against every backend: Django's storage tests (seed 001) and every
 * method of its Storage API (seed 003), plus edge sizes, hostile names and concurrency.
 */
export function storageContract(label: string, setup: () => Promise<StorageUnderTest & { cleanup(): Promise<void> }>): void {
  describe(`storage contract: ${label}`, () => {
    let s: StorageUnderTest & { cleanup(): Promise<void> };
    let storage: Storage;

    it("sets up", async () => {
      s = await setup();
      storage = s.storage;
    });

    it("saves, tells it exists, opens, reads and deletes", async () => {
      assert.equal(await storage.exists("contract/test.file"), false);
      const name = await storage.save("contract/test.file", bytes("storage contents"), { contentType: "text/plain" });
      assert.equal(name, "contract/test.file");
      assert.equal(await storage.exists(name), true);
      assert.equal((await read(storage, name)).toString(), "storage contents");
      assert.equal(await storage.size(name), 16);
      await storage.delete(name);
      assert.equal(await storage.exists(name), false);
      await assert.rejects(storage.open(name), hasCode("NOT_FOUND"));
      await assert.rejects(storage.size(name), hasCode("NOT_FOUND"));
    });

    it("deleting a missing name is silent", async () => {
      await storage.delete("contract/never-existed.txt");
    });

    it("gives a second save of one name another name", async () => {
      const first = await storage.save("contract/dup/name.txt", bytes("one"));
      const second = await storage.save("contract/dup/name.txt", bytes("two"));
      assert.equal(first, "contract/dup/name.txt");
      assert.match(second, /^contract\/dup\/name_[A-Za-z0-9]{7}\.txt$/);
      assert.equal((await read(storage, first)).toString(), "one");
      assert.equal((await read(storage, second)).toString(), "two");
    });

    it("replaces the file on a second save when overwriting is allowed", async () => {
      const first = await s.overwriting.save("contract/over/name.txt", bytes("one"));
      const second = await s.overwriting.save("contract/over/name.txt", bytes("two"));
      assert.equal(first, second);
      assert.equal((await read(s.overwriting, first)).toString(), "two");
    });

    it("reads in chunks and byte ranges", async () => {
      const content = randomBytes(300_000);
      const name = await storage.save("contract/ranges.bin", Readable.from([content]));
      let total = 0;
      const hash = createHash("sha256");
      for await (const chunk of await storage.open(name)) {
        total += chunk.length;
        hash.update(chunk);
      }
      assert.equal(total, content.length);
      assert.equal(hash.digest("hex"), sha(content));
      assert.deepEqual(await read(storage, name, { start: 0, end: 0 }), content.subarray(0, 1));
      assert.deepEqual(await read(storage, name, { start: 1000, end: 1999 }), content.subarray(1000, 2000));
      assert.deepEqual(await read(storage, name, { start: content.length - 10 }), content.subarray(content.length - 10));
    });

    it("lists directories and files", async () => {
      await storage.save("contract/list/a.txt", bytes("a"));
      await storage.save("contract/list/b.txt", bytes("b"));
      await storage.save("contract/list/sub/c.txt", bytes("c"));
      const { directories, files } = await storage.listdir("contract/list");
      assert.deepEqual(directories.sort(), ["sub"]);
      assert.deepEqual(files.sort(), ["a.txt", "b.txt"]);
      assert.ok((await storage.listdir("")).directories.includes("contract"));
      await assert.rejects(storage.listdir("contract/no-such-dir"), hasCode("NOT_FOUND"));
    });

    it("has Django's naming methods", async () => {
      assert.equal(storage.getValidName("john's portrait in 2004.jpg"), "johns_portrait_in_2004.jpg");
      assert.match(storage.getAlternativeName("photo", ".jpg"), /^photo_[A-Za-z0-9]{7}\.jpg$/);
      assert.equal(storage.generateFilename("uploads/2026/my file!.png"), "uploads/2026/my_file.png");
      assert.throws(() => storage.generateFilename("../outside.png"), hasCode("SUSPICIOUS_NAME"));
      await storage.save("contract/avail/report.pdf", bytes("x"));
      assert.equal(await storage.getAvailableName("contract/avail/free.pdf"), "contract/avail/free.pdf");
      assert.match(await storage.getAvailableName("contract/avail/report.pdf"), /^contract\/avail\/report_[A-Za-z0-9]{7}\.pdf$/);
      const truncated = await storage.getAvailableName("contract/avail/report.pdf", 30);
      assert.ok(truncated.length <= 30, truncated);
      assert.match(truncated, /^contract\/avail\/r.*_[A-Za-z0-9]{7}\.pdf$/);
      await assert.rejects(storage.getAvailableName("contract/avail/report.pdf", 20), hasCode("NAME_TOO_LONG"));
    });

    it("reports times, or says it cannot", async () => {
      const name = await storage.save("contract/times.txt", bytes("t"));
      const modified = await storage.getModifiedTime(name);
      assert.ok(Math.abs(modified.getTime() - Date.now()) < 60_000);
      for (const [method, supported] of [["getCreatedTime", s.times.created], ["getAccessedTime", s.times.accessed]] as const) {
        if (supported) {
          const when = await storage[method](name);
          assert.ok(Math.abs(when.getTime() - Date.now()) < 60_000, method);
        } else {
          await assert.rejects(storage[method](name), hasCode("NOT_SUPPORTED"), method);
        }
      }
      await assert.rejects(storage.getModifiedTime("contract/missing.txt"), hasCode("NOT_FOUND"));
    });

    it("gives a local path only where there is one, and URLs for every file", async () => {
      const name = await storage.save("contract/url me.txt", bytes("u"));
      assert.equal(typeof storage.path(name), s.local ? "string" : "undefined");
      const url = await storage.url(name);
      assert.match(url, /url%20me\.txt/);
      const expiring = await storage.url(name, { expiresIn: 60 });
      assert.match(expiring, /[?&](expires|X-Amz-Expires)=/i, "an expiring URL carries its expiry");
    });

    it("refuses names that would leave its root", async () => {
      for (const name of ["../escape.txt", "/etc/passwd", "a/../../escape.txt", "a\u0000b", "a\\b", "", "./"]) {
        await assert.rejects(storage.save(name, bytes("x")), hasCode("SUSPICIOUS_NAME"), JSON.stringify(name));
        await assert.rejects(storage.open(name), hasCode("SUSPICIOUS_NAME"), JSON.stringify(name));
        await assert.rejects(storage.delete(name), hasCode("SUSPICIOUS_NAME"), JSON.stringify(name));
      }
    });

    for (const size of [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 50 * MiB]) {
      it(`stores and returns ${size} bytes exactly`, async () => {
        const { stream, digest } = randomStream(size, size);
        const name = await storage.save(`contract/sizes/${size}.bin`, stream);
        assert.equal(await storage.size(name), size);
        const hash = createHash("sha256");
        let total = 0;
        for await (const chunk of await storage.open(name)) {
          hash.update(chunk);
          total += chunk.length;
        }
        assert.equal(total, size);
        assert.equal(hash.digest("hex"), digest());
        await storage.delete(name);
      });
    }

    it("never lets concurrent saves of one name overwrite each other", async () => {
      const names = await Promise.all(Array.from({ length: 12 }, (_, i) => storage.save("contract/race/same.txt", bytes(`content ${i}`))));
      assert.equal(new Set(names).size, 12);
      const contents = await Promise.all(names.map(async (n) => (await read(storage, n)).toString()));
      assert.equal(new Set(contents).size, 12);
    });

    it("says NAME_UNAVAILABLE, not NAME_TOO_LONG, when every alternative name is taken", async () => {
      // Alternatives that always come out the same: after the first, none is ever free.
      Object.defineProperty(storage, "getAlternativeName", { value: (root: string, ext: string) => `${root}_taken${ext}`, configurable: true });
      try {
        await storage.save("contract/full/name.txt", bytes("one"));
        assert.equal(await storage.save("contract/full/name.txt", bytes("two")), "contract/full/name_taken.txt");
        await assert.rejects(storage.save("contract/full/name.txt", bytes("three")), hasCode("NAME_UNAVAILABLE"));
        await assert.rejects(storage.getAvailableName("contract/full/name.txt"), hasCode("NAME_UNAVAILABLE"));
        assert.equal((await read(storage, "contract/full/name_taken.txt")).toString(), "two");
      } finally {
        delete (storage as { getAlternativeName?: unknown }).getAlternativeName;
      }
    });

    it("passes the content's own error through, also within the first part, and leaves nothing", async () => {
      const early = Readable.from(
        (async function* () {
          yield Buffer.alloc(100, 1);
          throw new Error("gone early");
        })(),
      );
      await assert.rejects(storage.save("contract/partial/early.bin", early), (err: Error) => err.message === "gone early");
      assert.equal(await storage.exists("contract/partial/early.bin"), false);
    });

    it("passes the content's own error through and leaves nothing under the name", async () => {
      const failing = Readable.from(
        (async function* () {
          yield Buffer.alloc(6 * MiB, 1);
          throw new Error("client went away");
        })(),
      );
      await assert.rejects(storage.save("contract/partial/file.bin", failing), (err: Error) => err.message === "client went away");
      assert.equal(await storage.exists("contract/partial/file.bin"), false);
    });

    it("moves an object to a free name and refuses to replace one", async () => {
      await storage.save("contract/stage/a.bin", bytes("A"));
      await storage.move("contract/stage/a.bin", "contract/final/a.bin");
      assert.equal(await storage.exists("contract/stage/a.bin"), false);
      assert.equal((await read(storage, "contract/final/a.bin")).toString(), "A");
      await storage.save("contract/stage/b.bin", bytes("B"));
      await assert.rejects(storage.move("contract/stage/b.bin", "contract/final/a.bin"), hasCode("EXISTS"));
      assert.equal((await read(storage, "contract/final/a.bin")).toString(), "A");
      await assert.rejects(storage.move("contract/stage/missing.bin", "contract/final/m.bin"), hasCode("NOT_FOUND"));
    });

    it("cleans up", async () => {
      await s.cleanup();
    });
  });
}
