import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GetShelfDocument, UploadShelfDocument, UploadShelvesDocument } from "./generated/graphql.js";
import { errorCode, gql, upload } from "./helpers/graphql.js";
import { makeImage, makeMp3, makeMp4, makePdf, makeWav, makeWebm, sha256 } from "./helpers/media.js";
import { coreSetups, startTestServer, type TestServer } from "./helpers/server.js";

for (const setup of await coreSetups()) {
  describe(`uploads (${setup.label})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(setup.db, {}, setup.storage);
    });
    after(() => server.close());

    it("stores an image as an ImageShelf with its original, checksum, size and dimensions", async () => {
      const bytes = await makeImage(64, 48, "jpeg");
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes, filename: "Holiday photo.JPG", contentType: "text/plain" },
      ]);
      assert.equal(res.errors, undefined);
      const shelf = res.data!.uploadShelf;
      assert.equal(shelf.__typename, "ImageShelf");
      assert.equal(shelf.kind, "IMAGE");
      assert.equal(shelf.title, "Holiday photo");
      assert.equal(shelf.original.role, "ORIGINAL");
      assert.equal(shelf.original.mimeType, "image/jpeg", "type comes from the bytes, not the client's text/plain");
      assert.equal(shelf.original.size, bytes.length);
      assert.equal(shelf.original.checksum, sha256(bytes));
      assert.equal(shelf.original.width, 64);
      assert.equal(shelf.original.height, 48);
      assert.match(shelf.original.name, /^image\/\d{4}\/\d{2}\/[0-9a-f-]{36}\/Holiday_photo\.jpg$/);
      assert.deepEqual(shelf.files.map((f) => f.id), [shelf.original.id]);
      if (shelf.__typename === "ImageShelf") assert.deepEqual([shelf.width, shelf.height], [64, 48]);

      const stored = await server.readStored(shelf.original.name);
      assert.equal(sha256(stored), sha256(bytes), "the stored bytes are the uploaded bytes");
      const fetched = await gql(server.url, GetShelfDocument, { id: shelf.id });
      assert.equal(fetched.data?.shelf?.id, shelf.id);
      assert.equal(fetched.data?.shelf?.original.checksum, sha256(bytes));
    });

    it("infers every kind from the content and analyses audio and video with ffprobe", async () => {
      const cases = [
        { bytes: await makeImage(30, 20, "png", { alpha: true }), filename: "a.bin", type: "ImageShelf", mime: "image/png" },
        { bytes: await makeImage(30, 20, "webp"), filename: "b", type: "ImageShelf", mime: "image/webp" },
        { bytes: await makeMp3(2), filename: "song.mp3", type: "AudioShelf", mime: "audio/mpeg" },
        { bytes: await makeWav(1), filename: "tone.wav", type: "AudioShelf", mime: "audio/wav" },
        { bytes: await makeMp4(2), filename: "clip.mp4", type: "VideoShelf", mime: "video/mp4" },
        { bytes: await makeWebm(1), filename: "clip.webm", type: "VideoShelf", mime: "video/webm" },
        { bytes: makePdf(), filename: "report.pdf", type: "DocumentShelf", mime: "application/pdf" },
      ];
      for (const c of cases) {
        const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
          { variable: "input.file", bytes: c.bytes, filename: c.filename },
        ]);
        assert.equal(res.errors, undefined, `${c.filename}: ${JSON.stringify(res.errors)}`);
        const shelf = res.data!.uploadShelf;
        assert.equal(shelf.__typename, c.type, c.filename);
        assert.equal(shelf.original.mimeType, c.mime, c.filename);
        if (shelf.__typename === "AudioShelf") {
          const expected = c.filename === "song.mp3" ? 2000 : 1000;
          assert.ok(Math.abs(shelf.durationMs! - expected) < 150, `${c.filename} duration ${shelf.durationMs}`);
          assert.equal(shelf.original.width, null);
        }
        if (shelf.__typename === "VideoShelf" && c.filename === "clip.mp4") {
          assert.deepEqual([shelf.width, shelf.height], [320, 240]);
          assert.ok(Math.abs(shelf.durationMs! - 2000) < 150, `duration ${shelf.durationMs}`);
        }
        if (shelf.__typename === "VideoShelf" && c.filename === "clip.webm") {
          assert.deepEqual([shelf.original.width, shelf.original.height], [160, 120]);
        }
        if (shelf.__typename === "DocumentShelf") assert.equal(shelf.original.width, null);
      }
    });

    it("uses the given kind and title, and refuses content the kind does not accept", async () => {
      const png = await makeImage(10, 10, "png");
      const ok = await upload(server.url, UploadShelfDocument, { input: { file: null, kind: "IMAGE", title: "  Logo  " } }, [
        { variable: "input.file", bytes: png, filename: "x.png" },
      ]);
      assert.equal(ok.data?.uploadShelf.title, "Logo");
      const wrong = await upload(server.url, UploadShelfDocument, { input: { file: null, kind: "AUDIO" } }, [
        { variable: "input.file", bytes: png, filename: "x.mp3" },
      ]);
      assert.equal(errorCode(wrong), "UNSUPPORTED_MEDIA_TYPE");
      assert.match(wrong.errors![0]!.message, /image\/png.*AUDIO/);
    });

    it("uploads several files in one request as one shelf each", async () => {
      const files = [await makeImage(20, 20, "jpeg"), await makeMp3(1), makePdf("x")];
      const res = await upload(server.url, UploadShelvesDocument, { input: { files: [null, null, null] } }, [
        { variable: "input.files.0", bytes: files[0]!, filename: "one.jpg" },
        { variable: "input.files.1", bytes: files[1]!, filename: "two.mp3" },
        { variable: "input.files.2", bytes: files[2]!, filename: "three.pdf" },
      ]);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      const shelves = res.data!.uploadShelves;
      assert.deepEqual(shelves.map((s) => s.__typename), ["ImageShelf", "AudioShelf", "DocumentShelf"]);
      assert.deepEqual(shelves.map((s) => s.title), ["one", "two", "three"]);
      assert.deepEqual(shelves.map((s) => s.original.checksum), files.map(sha256));
      assert.equal(new Set(shelves.map((s) => s.id)).size, 3);
    });

    it("streams a large file with a checksum that matches the bytes", async () => {
      // 40 MiB of video container: the head is a real mp4, the rest is extra bytes the prober ignores.
      const head = await makeMp4(1);
      const bytes = Buffer.concat([head, Buffer.alloc(40 * 1024 * 1024, 7)]);
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null, kind: "VIDEO" } }, [
        { variable: "input.file", bytes, filename: "big.mp4" },
      ]);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      assert.equal(res.data!.uploadShelf.original.size, bytes.length);
      assert.equal(res.data!.uploadShelf.original.checksum, sha256(bytes));
      assert.equal(sha256(await server.readStored(res.data!.uploadShelf.original.name)), sha256(bytes));
    });
  });
}

for (const setup of await coreSetups()) {
  describe(`concurrent uploads (${setup.label})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(setup.db, {}, setup.storage);
    });
    after(() => server.close());

    it("records every one of many simultaneous uploads exactly once", async () => {
      const images = await Promise.all(Array.from({ length: 12 }, (_, i) => makeImage(10 + i, 10, "png")));
      const results = await Promise.all(
        images.map((bytes, i) =>
          upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes, filename: `c${i}.png` }]),
        ),
      );
      for (const res of results) assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      assert.deepEqual(
        results.map((r) => r.data!.uploadShelf.original.checksum).sort(),
        images.map(sha256).sort(),
      );
      const stored = await Promise.all(results.map((r) => server.readStored(r.data!.uploadShelf.original.name)));
      assert.deepEqual(stored.map(sha256).sort(), images.map(sha256).sort());
    });
  });
}
