import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { uploadShelf } from "./helpers/graphql.js";
import { makeImage } from "./helpers/media.js";
import { DEFAULT_VERSIONS, databaseFlavours, startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The hot paths of versions and serving read files with statements written in SQL; what they
 * read must be exactly the row the typed client reads, column for column and type for type (a
 * column added to the model is read by them too, through src/media/sql/media-file.ts).
 */
for (const flavour of await databaseFlavours()) {
  describe(`file rows read in SQL (${flavour})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(flavour, DEFAULT_VERSIONS);
    });
    after(() => server.close());

    it("a file served by name is the row the typed client reads, for an original and a version", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(640, 480), "rows.jpg");
      const prisma = server.app.db.prisma;
      const deadline = Date.now() + 30_000;
      let files = await prisma.mediaFile.findMany({ where: { shelfId: shelf.id }, orderBy: { role: "asc" } });
      while (!files.some((f) => f.role === "VERSION" && f.status === "READY") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        files = await prisma.mediaFile.findMany({ where: { shelfId: shelf.id }, orderBy: { role: "asc" } });
      }
      assert.deepEqual(files.map((f) => [f.role, f.status]), [["ORIGINAL", "READY"], ["VERSION", "READY"]]);
      for (const file of files) {
        const served = await server.app.services.shelves.fileByName(file.storage, file.name);
        assert.ok(served, file.name);
        const { shelf: owner, ...row } = served;
        assert.deepEqual(row, file);
        assert.equal(typeof row.size, "bigint");
        assert.ok(row.createdAt instanceof Date);
        assert.deepEqual(owner, { visibility: "PRIVATE", kind: "IMAGE" });
      }
      // The listing reads files as positional JSON tuples built from the same column list.
      const listed = await server.app.services.listing.one("local", shelf.id);
      assert.ok(listed);
      assert.deepEqual(listed.files, files);
      assert.ok(listed.files.every((f) => typeof f.size === "bigint" && f.createdAt instanceof Date));
    });
  });
}
