import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { GetShelfDocument, ShelfSetDocument, UploadShelfDocument, UploadShelvesDocument } from "./generated/graphql.js";
import { errorCode, gql, multipartBody, upload } from "./helpers/graphql.js";
import { makeImage, makeMp4, makePdf, makePngDeclaring, sha256 } from "./helpers/media.js";
import { databaseFlavours, listFiles, startTestServer, type TestServer } from "./helpers/server.js";

const KiB = 1024;

for (const flavour of await databaseFlavours()) {
  describe(`bad input is refused and leaves nothing behind (${flavour})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(flavour, { MAX_SIZE_IMAGE: String(256 * KiB), MAX_UPLOAD_FILES: "3" });
    });
    after(() => server.close());

    async function assertNothingStored(): Promise<void> {
      const list = await gql(server.url, ShelfSetDocument, { first: 100 });
      assert.equal(list.data?.viewer.library.shelfSet.totalCount, 0, "no shelf row");
      assert.deepEqual(await listFiles(server.mediaRoot), [], "no stored bytes, temporary or final");
    }

    async function send(bytes: Uint8Array, filename: string, kind?: "IMAGE" | "DOCUMENT") {
      return upload(server.url, UploadShelfDocument, { input: { file: null, ...(kind ? { kind } : {}) } }, [
        { variable: "input.file", bytes, filename, contentType: "image/jpeg" },
      ]);
    }

    it("decides the type from the bytes: HTML, scripts, SVG and polyglot names are refused", async () => {
      const hostile: Array<[string, string]> = [
        ["<html><body><script>alert(1)</script></body></html>", "x.jpg"],
        ["#!/bin/sh\nrm -rf /\n", "x.png"],
        ["<?php system($_GET['c']); ?>", "x.jpg.php"],
        ["<?php echo 1; ?>", "x.php%00.jpg"],
        ['<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>', "x.svg"],
        ["#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n", "playlist.mp4"],
        ["ffconcat version 1.0\nfile /etc/passwd\n", "concat.mp4"],
        ["plain text that is not media", "notes.txt"],
      ];
      for (const [content, filename] of hostile) {
        const res = await send(Buffer.from(content), filename);
        assert.equal(errorCode(res), "UNSUPPORTED_MEDIA_TYPE", `${filename}: ${JSON.stringify(res.errors)}`);
        assert.equal(res.data ?? null, null);
      }
      await assertNothingStored();
    });

    it("refuses an empty file", async () => {
      const res = await send(Buffer.alloc(0), "empty.jpg");
      assert.equal(errorCode(res), "BAD_USER_INPUT");
      assert.match(res.errors![0]!.message, /empty/);
      await assertNothingStored();
    });

    it("cuts a file over its kind's size limit while streaming", async () => {
      const head = await makeImage(16, 16, "png");
      const bytes = Buffer.concat([head, Buffer.alloc(2 * 1024 * KiB, 1)]);
      const res = await send(bytes, "huge.png");
      assert.equal(errorCode(res), "PAYLOAD_TOO_LARGE");
      assert.match(res.errors![0]!.message, /262144 bytes allowed for IMAGE/);
      await assertNothingStored();
      // The limit is per kind: the same number of bytes is fine for a document.
      const pdf = Buffer.concat([makePdf(), Buffer.alloc(bytes.length - makePdf().length, 0x20)]);
      const ok = await send(pdf, "big.pdf");
      assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
      assert.equal(ok.data!.uploadShelf.original.size, bytes.length);
      await server.app.services.shelves.delete("local", ok.data!.uploadShelf.id);
      await server.app.services.deletions.idle();
      await assertNothingStored();
    });

    it("refuses an image that declares an enormous canvas before decoding it", async () => {
      const bomb = makePngDeclaring(30000, 30000);
      assert.ok(bomb.length < 2 * KiB);
      const res = await send(bomb, "bomb.png");
      assert.equal(errorCode(res), "BAD_USER_INPUT");
      assert.match(res.errors![0]!.message, /more than the 100 megapixels allowed/);
      await assertNothingStored();
    });

    it("refuses a truncated or corrupt video that the prober cannot read", async () => {
      const mp4 = await makeMp4(1);
      // Keep the ftyp box so the bytes still sniff as mp4, then garbage.
      const broken = Buffer.concat([mp4.subarray(0, 32), Buffer.alloc(4096, 0xff)]);
      const res = await send(broken, "broken.mp4");
      assert.equal(errorCode(res), "BAD_USER_INPUT", JSON.stringify(res.errors));
      assert.match(res.errors![0]!.message, /could not be read|no audio or video/);
      await assertNothingStored();
    });

    it("never lets a client file name place bytes outside the media root", async () => {
      const names = [
        "../../../../etc/passwd.jpg",
        "/etc/shadow.jpg",
        "..\\..\\windows\\system32\\x.jpg",
        "line\nbreak\r.jpg",
        `${"a".repeat(5000)}.jpg`,
        "\u202Egnp.jpg",
        "Ｆｕｌｌ／ｗｉｄｔｈ．jpg",
        "..",
        ".htaccess",
        "🙂 smile.jpg",
      ];
      const jpeg = await makeImage(8, 8, "jpeg");
      const ids: string[] = [];
      for (const filename of names) {
        const res = await send(jpeg, filename);
        assert.equal(res.errors, undefined, `${JSON.stringify(filename)}: ${JSON.stringify(res.errors)}`);
        const file = res.data!.uploadShelf.original;
        ids.push(res.data!.uploadShelf.id);
        assert.ok(!file.name.includes(".."), file.name);
        assert.ok(!file.name.startsWith("/"), file.name);
        assert.ok(file.name.length < 200, `name length ${file.name.length}`);
        assert.doesNotMatch(file.name, /[\u0000-\u001f\u007f\\]/);
        const onDisk = path.resolve(server.mediaRoot, file.name);
        assert.ok(onDisk.startsWith(server.mediaRoot + path.sep));
        assert.equal(sha256(await fs.readFile(onDisk)), sha256(jpeg));
        assert.ok(!res.data!.uploadShelf.title.includes("\u0000"));
      }
      // The server's sandbox holds its data directory alone: every file in it is in the media root, the database or the signing key.
      const everything = await listFiles(server.sandbox);
      const media = everything.filter((f) => path.resolve(server.sandbox, f).startsWith(server.mediaRoot + path.sep));
      const database = everything.filter((f) => f.startsWith(`data${path.sep}db${path.sep}`));
      const service = [`data${path.sep}signing.key`];
      assert.deepEqual(everything.filter((f) => !media.includes(f) && !database.includes(f) && !service.includes(f)), []);
      assert.equal(media.length, names.length);
      for (const id of ids) {
        const shelf = await gql(server.url, GetShelfDocument, { id });
        assert.ok(shelf.data?.shelf?.title, "titles are kept as display data");
      }
      // Clean up for the next tests.
      for (const id of ids) await server.app.services.shelves.delete("local", id);
      await server.app.services.deletions.idle();
      server.app.services.deletions.notifyWork();
      await server.app.services.deletions.idle();
      assert.deepEqual(await listFiles(server.mediaRoot), []);
    });

    it("answers NUL and control characters in a part header as the client's error, and stays up", async () => {
      for (const filename of ["evil\u0000.jpg", "bell\u0007.jpg"]) {
        const res = await send(await makeImage(8, 8, "jpeg"), filename);
        assert.equal(errorCode(res), "BAD_USER_INPUT", JSON.stringify(res.errors));
        assert.match(res.errors![0]!.message, /upload could not be read/);
      }
      await assertNothingStored();
    });

    it("answers a storage failure with STORAGE_UNAVAILABLE and keeps no row", async () => {
      // A plain file where the staging directory belongs makes every write fail, as a full or broken disk would.
      const blocker = path.join(server.mediaRoot, ".incoming");
      await fs.rm(blocker, { recursive: true, force: true }); // only empty directories are left by earlier tests
      await fs.writeFile(blocker, "not a directory");
      try {
        const res = await send(await makeImage(8, 8, "jpeg"), "a.jpg");
        assert.equal(errorCode(res), "STORAGE_UNAVAILABLE", JSON.stringify(res.errors));
      } finally {
        await fs.rm(blocker);
      }
      await assertNothingStored();
    });

    it("rolls back the rows and removes the bytes when promotion fails after they were written", async () => {
      // The bytes stage fine; moving them to image/... fails, after the rows were inserted.
      const blocker = path.join(server.mediaRoot, "image");
      await fs.rm(blocker, { recursive: true, force: true });
      await fs.writeFile(blocker, "not a directory");
      try {
        const res = await send(await makeImage(8, 8, "jpeg"), "b.jpg");
        assert.equal(errorCode(res), "STORAGE_UNAVAILABLE", JSON.stringify(res.errors));
        assert.deepEqual(await listFiles(server.mediaRoot), ["image"], "only the blocker is left");
      } finally {
        await fs.rm(blocker);
      }
      await assertNothingStored();
    });

    it("keeps none of a batch when one file in it is refused", async () => {
      const res = await upload(server.url, UploadShelvesDocument, { input: { files: [null, null, null] } }, [
        { variable: "input.files.0", bytes: await makeImage(8, 8, "jpeg"), filename: "good.jpg" },
        { variable: "input.files.1", bytes: makePdf(), filename: "also-good.pdf" },
        { variable: "input.files.2", bytes: Buffer.from("<html></html>"), filename: "bad.jpg" },
      ]);
      assert.equal(errorCode(res), "UNSUPPORTED_MEDIA_TYPE");
      await assertNothingStored();
    });

    it("refuses more files than allowed in one request", async () => {
      const jpeg = await makeImage(8, 8, "jpeg");
      const res = await upload(server.url, UploadShelvesDocument, { input: { files: [null, null, null, null] } }, [0, 1, 2, 3].map((i) => ({ variable: `input.files.${i}`, bytes: jpeg, filename: `${i}.jpg` })));
      assert.equal(res.status, 413);
      assert.equal(errorCode(res), "PAYLOAD_TOO_LARGE");
      await assertNothingStored();
    });

    it("keeps CSRF prevention on: a multipart POST without a preflight header runs nothing", async () => {
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes: await makeImage(8, 8, "jpeg"), filename: "csrf.jpg" },
      ], { preflight: false });
      assert.equal(res.status, 400);
      await assertNothingStored();
    });

    it("ends promptly and keeps nothing when the client disconnects mid-upload", async () => {
      const head = await makeImage(16, 16, "png");
      const form = multipartBody(UploadShelfDocument, { input: { file: null, kind: "DOCUMENT" } }, [
        { variable: "input.file", bytes: Buffer.concat([makePdf(), Buffer.alloc(200 * KiB)]), filename: "cut.pdf" },
      ]);
      const body = Buffer.from(await new Response(form).arrayBuffer());
      const contentType = new Response(form).headers.get("content-type")!;
      void head;
      const url = new URL(`${server.url}/graphql`);
      await new Promise<void>((resolve) => {
        const req = http.request({
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { "content-type": contentType, "content-length": body.length, "apollo-require-preflight": "true" },
        });
        req.on("error", () => resolve());
        req.on("response", () => resolve());
        // Send the preamble and part of the file, then vanish.
        req.write(body.subarray(0, body.length - 100 * KiB), () => setTimeout(() => { req.destroy(); resolve(); }, 150));
      });
      // The service answers other requests and has removed what it had begun to write.
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (await listFiles(server.mediaRoot)).length > 0) await new Promise((r) => setTimeout(r, 50));
      await assertNothingStored();
      const ok = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes: await makeImage(8, 8, "jpeg"), filename: "after.jpg" },
      ]);
      assert.equal(ok.errors, undefined);
      await server.app.services.shelves.delete("local", ok.data!.uploadShelf.id);
      await server.app.services.deletions.idle();
    });
  });
}
