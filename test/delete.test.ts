import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DeleteShelfDocument, GetShelfDocument } from "./generated/graphql.js";
import { errorCode, gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp3 } from "./helpers/media.js";
import { coreSetups, startTestServer, type TestServer } from "./helpers/server.js";

for (const setup of await coreSetups()) {
  describe(`deleting shelves (${setup.label})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(setup.db, {}, setup.storage);
    });
    after(() => server.close());

    const uploaded = (bytes: Buffer, filename: string) => uploadShelf(server.url, bytes, filename);

    it("removes the shelf, every file row and every stored byte", async () => {
      const keep = await uploaded(await makeImage(10, 10), "keep.jpg");
      const shelf = await uploaded(await makeMp3(1), "gone.mp3");
      assert.equal(await server.storedExists(shelf.original.name), true);

      const res = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
      assert.deepEqual(res.data?.deleteShelf, { id: shelf.id, deleted: true, deletedFiles: 1 });
      await server.app.services.deletions.idle();

      assert.equal((await gql(server.url, GetShelfDocument, { id: shelf.id })).data!.shelf, null);
      assert.equal(await server.storedExists(shelf.original.name), false);
      assert.equal((await fetch(server.url + shelf.original.url)).status, 404);
      assert.equal(await server.app.services.deletions.pending(), 0);
      assert.equal(await server.storedExists(keep.original.name), true, "other shelves keep their files");

      const again = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
      assert.equal(errorCode(again), "NOT_FOUND");
    });

    it("records the deletion with the row removal and retries until storage lets it go", async (t) => {
      // The failure is made on local disk; the retrying is the same for every backend.
      if (setup.storage !== "filesystem") return t.skip("the failure is staged on local disk");
      const shelf = await uploaded(await makeImage(10, 10), "stubborn.jpg");
      const stored = path.join(server.mediaRoot, shelf.original.name);
      // Make deleting fail the way a broken backend would: the name now is a non-empty directory.
      const bytes = await fs.readFile(stored);
      await fs.rm(stored);
      await fs.mkdir(path.join(stored, "blocker"), { recursive: true });

      const res = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
      assert.equal(res.data?.deleteShelf.deleted, true);
      await server.app.services.deletions.idle();
      assert.equal((await gql(server.url, GetShelfDocument, { id: shelf.id })).data!.shelf, null, "the row is gone at once");
      assert.equal(await server.app.services.deletions.pending(), 1, "the object is still owed");
      assert.ok(server.logs.some((l) => l.includes("retrying")));

      // Storage recovers; the next retry removes the bytes.
      await fs.rm(stored, { recursive: true });
      await fs.writeFile(stored, bytes);
      const deadline = Date.now() + 10_000;
      while ((await server.app.services.deletions.pending()) > 0 && Date.now() < deadline) {
        server.app.services.deletions.notifyWork();
        await new Promise((r) => setTimeout(r, 200));
        await server.app.services.deletions.idle();
      }
      assert.equal(await server.app.services.deletions.pending(), 0);
      await assert.rejects(fs.access(stored), { code: "ENOENT" });
    });
  });
}
