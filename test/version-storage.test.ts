import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { DeleteShelfDocument } from "./generated/graphql.js";
import { gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp3 } from "./helpers/media.js";
import { DEFAULT_VERSIONS, startTestServer, type TestServer } from "./helpers/server.js";
import { waitFor, settledVersion, fetchBytes, probe } from "./helpers/versions.js";

/** Versions on backends without local paths. */
for (const storage of ["s3", "database"] as const) {
  describe(`versions on ${storage} storage`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer("pglite", DEFAULT_VERSIONS, storage);
    });
    after(() => server.close());

    test("image and audio versions are made from, stored in and served from the backend; delete removes them", async () => {
      const image = await uploadShelf(server.url, await makeImage(500, 500, "png", { alpha: true }), "b.png");
      const thumb = await settledVersion(server, image.id, "thumb");
      assert.equal(thumb.status, "READY", thumb.error ?? "");
      const served = await fetchBytes(server, thumb.url);
      assert.deepEqual(served.body, await server.readStored(thumb.name));
      assert.equal((await sharp(served.body).metadata()).width, 200);

      const audio = await uploadShelf(server.url, await makeMp3(1), "b.mp3");
      const mp3 = await settledVersion(server, audio.id, "aac-128k");
      assert.equal(mp3.status, "READY", mp3.error ?? "");
      const p = await probe(await server.readStored(mp3.name));
      assert.equal(p.streams[0]!.codec_name, "aac");

      for (const shelf of [image, audio]) await gql(server.url, DeleteShelfDocument, { id: shelf.id });
      await waitFor("deletions", async () => ((await server.app.db.prisma.storageDeletion.count()) === 0 ? true : undefined));
      for (const name of [thumb.name, mp3.name, image.original.name, audio.original.name]) {
        assert.equal(await server.storedExists(name), false, `${name} is still stored`);
      }
    });
  });
}
