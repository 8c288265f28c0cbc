import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { ShelfTransformDocument } from "./generated/graphql.js";
import { errorCode, gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage } from "./helpers/media.js";
import { DEFAULT_VERSIONS, databaseFlavours, startTestServer, type TestServer } from "./helpers/server.js";
import { settledVersion, fetchBytes } from "./helpers/versions.js";

/** Ad-hoc image transforms: keyed by their input, bounded, capped per shelf, switchable off. */
for (const flavour of await databaseFlavours()) {
  describe(`transforms (${flavour})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(flavour, DEFAULT_VERSIONS);
    });
    after(() => server.close());

    test("transform: keyed by its input, alpha kept, never enlarged, bounds enforced", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(300, 200, "png", { alpha: true }), "alpha.png");
      const input = { width: 4000, format: "PNG" as const };
      const first = await gql(server.url, ShelfTransformDocument, { id: shelf.id, input });
      const again = await gql(server.url, ShelfTransformDocument, { id: shelf.id, input });
      const a = first.data!.shelf!;
      const b = again.data!.shelf!;
      assert.ok("transform" in a && "transform" in b);
      assert.equal(a.transform.id, b.transform.id, "the same input gives the same version");
      assert.equal(a.transform.preset, null);
      const res = await fetchBytes(server, a.transform.url);
      assert.equal(res.status, 200, "the media route waits for an image version");
      const meta = await sharp(res.body).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height, meta.hasAlpha], ["png", 300, 200, true]);

      const webp = await gql(server.url, ShelfTransformDocument, { id: shelf.id, input: { width: 100, height: 100, fit: "COVER", quality: 60 } });
      const w = webp.data!.shelf!;
      assert.ok("transform" in w);
      const webpMeta = await sharp((await fetchBytes(server, w.transform.url)).body).metadata();
      assert.deepEqual([webpMeta.format, webpMeta.width, webpMeta.height, webpMeta.hasAlpha], ["webp", 100, 100, true]);

      for (const bad of [{ width: 0 }, { width: 100_000 }, { width: 10, quality: 101 }, {}]) {
        const refused = await gql(server.url, ShelfTransformDocument, { id: shelf.id, input: bad });
        assert.equal(errorCode(refused), "BAD_USER_INPUT", JSON.stringify(bad));
      }
    });


    test("one transform asked for by many at once is made once; a shelf keeps at most 50, also when 70 are asked for at once", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(64, 48, "png"), "cap.png");
      const same = await Promise.all(Array.from({ length: 10 }, () => gql(server.url, ShelfTransformDocument, { id: shelf.id, input: { width: 200, height: 200, fit: "FILL" } })));
      assert.equal(new Set(same.map((r) => r.data?.shelf && "transform" in r.data.shelf && r.data.shelf.transform.id)).size, 1, JSON.stringify(same[0]!.errors));
      const asked = await Promise.all(
        Array.from({ length: 70 }, (_, i) => gql(server.url, ShelfTransformDocument, { id: shelf.id, input: { width: i + 1, height: i + 1, fit: "FILL" } })),
      );
      const refused = asked.filter((r) => r.errors);
      assert.equal(asked.length - refused.length, 49, "49 more transforms are made: 50 in all");
      for (const r of refused) {
        assert.equal(errorCode(r), "BAD_USER_INPUT");
        assert.match(r.errors![0]!.message, /keeps at most 50 transforms/);
      }
      const prisma = server.app.db.prisma;
      assert.equal(await prisma.mediaFile.count({ where: { shelfId: shelf.id, variant: { startsWith: "t-" } } }), 50);
      // One it has still answers; a new one does not.
      const side = asked.findIndex((r) => !r.errors) + 1;
      const again = await gql(server.url, ShelfTransformDocument, { id: shelf.id, input: { width: side, height: side, fit: "FILL" } });
      assert.equal(again.errors, undefined, JSON.stringify(again.errors));
      assert.equal(errorCode(await gql(server.url, ShelfTransformDocument, { id: shelf.id, input: { width: 99, height: 99, fit: "FILL" } })), "BAD_USER_INPUT");
    });
  });
}

describe("transforms can be limited to presets", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", { ...DEFAULT_VERSIONS, MEDIA_TRANSFORMS: "presets-only" });
  });
  after(() => server.close());

  test("transform is refused; presets still work", async () => {
    const shelf = await uploadShelf(server.url, await makeImage(100, 80, "png"), "p.png");
    const res = await gql(server.url, ShelfTransformDocument, { id: shelf.id, input: { width: 50 } });
    assert.equal(errorCode(res), "BAD_USER_INPUT");
    assert.match(res.errors![0]!.message, /turned off/);
    assert.equal((await settledVersion(server, shelf.id, "small")).status, "READY");
  });
});
