import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { KindPresetsDocument, ShelfFilesDocument, ShelfVersionDocument, ThumbPageDocument } from "./generated/graphql.js";
import { errorCode, gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage } from "./helpers/media.js";
import { DEFAULT_VERSIONS, databaseFlavours, listFiles, startTestServer, type TestServer } from "./helpers/server.js";
import { waitFor, version, settledVersion, fetchBytes, jpegWithExif } from "./helpers/versions.js";

/** Image versions: presets made eagerly and on demand, what they carry, what they cost. */
for (const flavour of await databaseFlavours()) {
  describe(`image versions (${flavour})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(flavour, DEFAULT_VERSIONS);
    });
    after(() => server.close());


    test("mediaKinds lists each kind's presets", async () => {
      const res = await gql(server.url, KindPresetsDocument, {});
      const byKind = Object.fromEntries(res.data!.mediaKinds.map((k) => [k.kind, k.presets]));
      assert.deepEqual(
        byKind.IMAGE!.map((p) => [p.name, p.eager, p.mimeType]),
        [["thumb", true, "image/webp"], ["small", false, "image/webp"], ["medium", false, "image/webp"], ["large", false, "image/webp"]],
      );
      assert.deepEqual(byKind.VIDEO!.map((p) => [p.name, p.eager]), [["mp4-720p", true], ["webm-720p", false]]);
      assert.deepEqual(byKind.AUDIO!.map((p) => p.name), ["mp3-128k", "aac-128k", "opus-96k"]);
      assert.deepEqual(byKind.DOCUMENT, []);
    });

    test("the thumb is made right after upload: 200x200 webp, no metadata", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(1200, 800, "jpeg"), "wide.jpg");
      const thumb = await waitFor("eager thumb", async () => {
        const res = await gql(server.url, ShelfFilesDocument, { id: shelf.id });
        const file = res.data!.shelf!.files.find((f) => f.preset === "thumb");
        return file?.status === "READY" ? file : undefined;
      });
      assert.equal(thumb.role, "VERSION");
      assert.equal(thumb.mimeType, "image/webp");
      const { status, headers, body } = await fetchBytes(server, thumb.url);
      assert.equal(status, 200);
      assert.equal(headers.get("content-type"), "image/webp");
      assert.equal(body.length, thumb.size);
      const meta = await sharp(body).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["webp", 200, 200]);
      assert.equal(thumb.width, 200);
      assert.equal(thumb.stale, false);
    });

    test("versions apply EXIF orientation and carry no EXIF or GPS", async () => {
      const original = await jpegWithExif();
      const before = await sharp(original).metadata();
      assert.equal(before.orientation, 6, "the test image carries its orientation");
      assert.ok(before.exif && before.exif.includes(Buffer.from("TestCam")), "the test image carries EXIF");
      const shelf = await uploadShelf(server.url, original, "phone.jpg");
      const small = await settledVersion(server, shelf.id, "small");
      assert.equal(small.status, "READY");
      const body = (await fetchBytes(server, small.url)).body;
      const meta = await sharp(body).metadata();
      // Displayed 200x300; "small" is 480 wide at most and never enlarges.
      assert.deepEqual([meta.width, meta.height], [200, 300]);
      assert.equal(meta.exif, undefined);
      assert.equal(meta.orientation, undefined);
      assert.ok(!body.includes(Buffer.from("TestCam")));
      // The top-left quarter of the stored image (blue) is the top-right after the quarter turn.
      const { data } = await sharp(body).extract({ left: 150, top: 10, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
      assert.ok(data[2]! > 120 && data[0]! < 80, `expected blue at the top right, got ${[...data]}`);
    });


    test("an unknown preset is refused, naming the kind's presets", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(64, 64, "png"), "p.png");
      const res = await gql(server.url, ShelfVersionDocument, { id: shelf.id, preset: "huge" });
      assert.equal(errorCode(res), "BAD_USER_INPUT");
      assert.match(res.errors![0]!.message, /thumb, small, medium, large/);
    });

    test("a truncated JPEG is accepted from its header, and its versions end FAILED with a message", async () => {
      const whole = await makeImage(800, 600, "jpeg");
      const shelf = await uploadShelf(server.url, whole.subarray(0, Math.floor(whole.length / 2)), "cut.jpg");
      const medium = await settledVersion(server, shelf.id, "medium");
      assert.equal(medium.status, "FAILED");
      assert.match(medium.error ?? "", /could not be transcoded/);
      const res = await fetchBytes(server, medium.url);
      assert.equal(res.status, 404);
      assert.equal(res.body.toString(), "This version could not be made", "the reason is the owner's, through the API");
      assert.equal((await listFiles(server.mediaRoot)).filter((f) => f.includes(medium.name)).length, 0);
    });

    test("a page of shelves with their thumbs costs the same queries for 5 as for 50", async () => {
      const fresh = await startTestServer(flavour, DEFAULT_VERSIONS);
      try {
        const { uploadMany } = await import("./helpers/graphql.js");
        await uploadMany(fresh.url, await makeImage(64, 48, "png"), 50);
        await waitFor("every thumb", async () => ((await fresh.app.db.prisma.mediaFile.count({ where: { preset: "thumb", status: "READY" } })) === 50 ? true : undefined));
        const selects = async (first: number) => {
          fresh.queries.length = 0;
          const res = await gql(fresh.url, ThumbPageDocument, { first });
          const edges = res.data!.viewer.library.shelfSet.edges;
          assert.equal(edges.length, first);
          assert.ok(edges.every((e) => e.node.version.status === "READY"));
          return fresh.queries.filter((q) => /^\s*select/i.test(q)).length;
        };
        const five = await selects(5);
        const fifty = await selects(50);
        assert.equal(fifty, five, `a page of 50 used ${fifty} SELECTs, a page of 5 ${five}`);
      } finally {
        await fresh.close();
      }
    });

    test("one shelf asked for a version it has costs one statement", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(64, 48, "png"), "one.png");
      await settledVersion(server, shelf.id, "thumb");
      server.queries.length = 0;
      const thumb = await version(server, shelf.id, "thumb");
      assert.equal(thumb.status, "READY");
      assert.equal(server.queries.length, 1, `statements:\n${server.queries.join("\n")}`);
    });

    test("50 concurrent requests for one missing version make it once", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(2000, 1500, "jpeg"), "busy.jpg");
      await settledVersion(server, shelf.id, "thumb");
      const before = server.app.services.versions.generations;
      const asked = await Promise.all(Array.from({ length: 50 }, () => version(server, shelf.id, "large")));
      assert.equal(new Set(asked.map((v) => v.id)).size, 1);
      const served = await Promise.all(Array.from({ length: 50 }, () => fetchBytes(server, asked[0]!.url)));
      assert.deepEqual(new Set(served.map((r) => r.status)), new Set([200]));
      assert.equal(new Set(served.map((r) => r.body.toString("base64"))).size, 1);
      assert.equal(server.app.services.versions.generations - before, 1);
    });
  });
}

describe("every accepted image format makes versions", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite");
  });
  after(() => server.close());

  for (const format of ["jpeg", "png", "webp", "avif", "gif", "tiff"] as const) {
    test(`${format} → thumb`, async () => {
      const shelf = await uploadShelf(server.url, await makeImage(320, 240, format), `input.${format}`);
      const v = await settledVersion(server, shelf.id, "thumb");
      assert.equal(v.status, "READY", v.error ?? "");
      const meta = await sharp((await fetchBytes(server, v.url)).body).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["webp", 200, 200]);
    });
  }
});
