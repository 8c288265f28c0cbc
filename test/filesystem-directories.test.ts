import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { FileSystemStorage } from "../src/storage/filesystem.js";
import { UrlSigner } from "../src/storage/signing.js";
import { DeleteShelfDocument } from "./generated/graphql.js";
import { gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp3 } from "./helpers/media.js";
import { startTestServer } from "./helpers/server.js";

const bytes = (s: string) => Readable.from([Buffer.from(s)]);

/** Every directory under `root`, relative to it. */
async function directories(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort();
}

describe("local disk keeps no empty directories behind", () => {
  let root: string;
  let storage: FileSystemStorage;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "media-dirs-"));
    storage = new FileSystemStorage({ location: path.join(root, "media"), baseUrl: "/media/", signer: new UrlSigner("directories-signing-key-0123456789") });
  });
  after(() => fs.rm(root, { recursive: true, force: true }));

  it("removes the directories a delete leaves empty, up to but not including the root", async () => {
    await storage.save("a/b/c/x.txt", bytes("x"));
    await storage.save("a/y.txt", bytes("y"));
    await storage.delete("a/b/c/x.txt");
    assert.deepEqual(await directories(storage.location), ["a"], "a still holds y.txt");
    await storage.delete("a/y.txt");
    assert.deepEqual(await directories(storage.location), []);
    assert.ok((await fs.stat(storage.location)).isDirectory(), "the root stays");
    // Deleting what is not there (its directory gone too) stays silent.
    await storage.delete("a/b/c/x.txt");
  });

  it("never fails a save into a directory that concurrent deletes keep emptying", async () => {
    // Each worker saves and deletes in one directory: every delete that empties it removes it,
    // often between another worker's making the directory and writing its file.
    const names: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, worker) => {
        for (let round = 0; round < 200; round++) {
          const name = await storage.save(`race/shared/w${worker}-r${round}.txt`, bytes(`${worker}/${round}`));
          names.push(name);
          assert.equal((await fs.readFile(storage.path(name))).toString(), `${worker}/${round}`);
          await storage.delete(name);
        }
      }),
    );
    assert.equal(names.length, 4 * 200);
    assert.deepEqual(await directories(storage.location), []);
  });

  it("never fails a move into a directory that concurrent deletes keep emptying", async () => {
    await Promise.all(
      Array.from({ length: 4 }, async (_, worker) => {
        for (let round = 0; round < 100; round++) {
          const staged = await storage.save(`stage/w${worker}-r${round}.txt`, bytes(`${worker}/${round}`));
          await storage.move(staged, `final/w${worker}-r${round}.txt`);
          assert.equal((await fs.readFile(storage.path(`final/w${worker}-r${round}.txt`))).toString(), `${worker}/${round}`);
          await storage.delete(`final/w${worker}-r${round}.txt`);
        }
      }),
    );
    // A move empties its source directory without deleting anything: staging keeps its directory.
    assert.deepEqual(await directories(storage.location), ["stage"]);
  });
});

describe("a deleted shelf leaves no directories of its own on local disk", () => {
  it("removes the shelf's directory and the kind, year and month directories it emptied", async () => {
    const server = await startTestServer("pglite");
    try {
      const image = await uploadShelf(server.url, await makeImage(10, 10), "gone.jpg");
      const audio = await uploadShelf(server.url, await makeMp3(1), "gone.mp3");
      assert.ok((await directories(server.mediaRoot)).some((d) => d.endsWith(image.id)));
      for (const shelf of [image, audio]) {
        const res = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
        assert.equal(res.data?.deleteShelf.deleted, true);
      }
      await server.app.services.deletions.idle();
      // The staging directory is the service's own, not a shelf's.
      assert.deepEqual((await directories(server.mediaRoot)).filter((d) => d !== ".incoming"), []);
    } finally {
      await server.close();
    }
  });
});
