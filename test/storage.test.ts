import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { after, before, describe, it } from "node:test";
import { StorageError } from "../src/storage/contract.js";
import { FileSystemStorage } from "../src/storage/filesystem.js";
import { getValidName } from "../src/storage/naming.js";
import { listFiles } from "./helpers/server.js";

describe("file names", () => {
  it("makes client names valid like Django's get_valid_name", () => {
    assert.equal(getValidName("john's portrait in 2004.jpg"), "johns_portrait_in_2004.jpg");
    assert.equal(getValidName("../../etc/passwd"), "passwd");
    assert.equal(getValidName("C:\\Windows\\evil.exe"), "evil.exe");
    assert.equal(getValidName(".htaccess"), "htaccess");
    assert.equal(getValidName("naïve café.png"), "naïve_café.png");
    assert.equal(getValidName("a\u0000b\u0007c.jpg"), "abc.jpg");
    assert.equal(getValidName(`${"x".repeat(500)}.jpeg`).length, 100);
    assert.ok(getValidName(`${"x".repeat(500)}.jpeg`).endsWith(".jpeg"));
    for (const hopeless of ["", "..", ".", "///", "\u0000"]) {
      assert.throws(() => getValidName(hopeless), (err: unknown) => err instanceof StorageError && err.code === "SUSPICIOUS_NAME");
    }
  });
});

describe("FileSystemStorage", () => {
  let root: string;
  let storage: FileSystemStorage;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "media-fs-"));
    storage = new FileSystemStorage({ location: path.join(root, "media"), baseUrl: "/media/" });
  });
  after(() => fs.rm(root, { recursive: true, force: true }));

  it("saves, opens, ranges, sizes, lists and deletes", async () => {
    const name = await storage.save("docs/hello.txt", Readable.from([Buffer.from("hello world")]));
    assert.equal(name, "docs/hello.txt");
    assert.equal(await storage.exists(name), true);
    assert.equal(await storage.size(name), 11);
    assert.equal(await text(await storage.open(name)), "hello world");
    assert.equal(await text(await storage.open(name, { start: 6, end: 10 })), "world");
    assert.deepEqual(await storage.listdir("docs"), { directories: [], files: ["hello.txt"] });
    assert.equal(storage.url("docs/a b.txt"), "/media/docs/a%20b.txt");
    await storage.delete(name);
    assert.equal(await storage.exists(name), false);
    await storage.delete(name); // deleting a missing name is silent
    await assert.rejects(storage.open(name), { code: "NOT_FOUND" });
  });

  it("gives a second save of one name another name, and concurrent saves never overwrite", async () => {
    const names = await Promise.all(
      Array.from({ length: 20 }, (_, i) => storage.save("same/name.txt", Readable.from([Buffer.from(`content ${i}`)]))),
    );
    assert.equal(new Set(names).size, 20);
    assert.ok(names.includes("same/name.txt"));
    for (const n of names.filter((x) => x !== "same/name.txt")) assert.match(n, /^same\/name_[A-Za-z0-9]{7}\.txt$/);
    const contents = await Promise.all(names.map(async (n) => text(await storage.open(n))));
    assert.deepEqual(new Set(contents).size, 20, "every save kept its own bytes");
    assert.ok(!(await listFiles(path.join(root, "media"))).some((f) => f.endsWith(".part")), "no temporary files left");
  });

  it("refuses names that would leave its root", async () => {
    for (const name of ["../escape.txt", "/etc/passwd", "a/../../escape.txt", "a\u0000b", "a\\b", ""]) {
      await assert.rejects(storage.save(name, Readable.from([Buffer.from("x")])), { code: "SUSPICIOUS_NAME" }, JSON.stringify(name));
      await assert.rejects(storage.open(name), { code: "SUSPICIOUS_NAME" });
    }
    await assert.rejects(fs.access(path.join(root, "escape.txt")));
  });

  it("passes the content's own error through and leaves no partial file", async () => {
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(1024, 1);
        throw new Error("client went away");
      })(),
    );
    await assert.rejects(storage.save("partial/file.bin", failing), /client went away/);
    assert.deepEqual(await listFiles(path.join(root, "media", "partial")), []);
  });

  it("moves a staged object to its final name, refusing to replace one", async () => {
    await storage.save("stage/a.bin", Readable.from([Buffer.from("A")]));
    await storage.move("stage/a.bin", "final/a.bin");
    assert.equal(await storage.exists("stage/a.bin"), false);
    assert.equal(await text(await storage.open("final/a.bin")), "A");
    await storage.save("stage/b.bin", Readable.from([Buffer.from("B")]));
    await assert.rejects(storage.move("stage/b.bin", "final/a.bin"), { code: "EXISTS" });
    assert.equal(await text(await storage.open("final/a.bin")), "A");
  });
});
