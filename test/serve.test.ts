import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp4, makePdf, makeRtf, sha256 } from "./helpers/media.js";
import { coreSetups, startTestServer, type TestServer } from "./helpers/server.js";

for (const setup of await coreSetups()) {
  describe(`serving media (${setup.label})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(setup.db, {}, setup.storage);
    });
    after(() => server.close());

    const uploaded = async (bytes: Buffer, filename: string) => (await uploadShelf(server.url, bytes, filename)).original;

    it("streams the stored bytes with type, length, validators and safety headers", async () => {
      const bytes = await makeImage(40, 30, "png");
      const file = await uploaded(bytes, "pic.png");
      assert.match(file.url, /^\/media\/image\//);
      const res = await fetch(server.url + file.url);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(sha256(body), sha256(bytes));
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.equal(res.headers.get("content-length"), String(bytes.length));
      assert.equal(res.headers.get("etag"), `"${sha256(bytes)}"`);
      assert.ok(!Number.isNaN(Date.parse(res.headers.get("last-modified")!)));
      assert.equal(res.headers.get("accept-ranges"), "bytes");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.match(res.headers.get("content-disposition")!, /^inline; filename="?pic\.png"?$/);
    });

    it("sends the stored, sniffed type for every format, never one guessed from the name", async () => {
      const { makeAv } = await import("./helpers/media.js");
      const cases: Array<[Buffer, string, string]> = [
        [await makeAv("x.mkv", ["-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=5", "-c:v", "libx264", "-preset", "ultrafast"]), "x.mkv", "video/matroska"],
        [await makeAv("x.flac", ["-f", "lavfi", "-i", "sine=duration=1"]), "x.flac", "audio/flac"],
        [await makeAv("x.m4a", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"]), "x.m4a", "audio/x-m4a"],
        [await makeAv("x.opus", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libopus"]), "x.opus", "audio/ogg; codecs=opus"],
        [await makeImage(8, 8, "gif"), "x.gif", "image/gif"],
      ];
      for (const [bytes, filename, mime] of cases) {
        const file = await uploaded(bytes, filename);
        assert.equal(file.mimeType, mime, filename);
        const res = await fetch(server.url + file.url);
        assert.equal(res.headers.get("content-type"), mime, filename);
        assert.match(res.headers.get("content-disposition")!, /^inline/, filename);
        assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(bytes));
      }
    });

    it("answers byte ranges with 206 and unsatisfiable ones with 416", async () => {
      const bytes = await makeMp4(1);
      const file = await uploaded(bytes, "clip.mp4");
      const first = await fetch(server.url + file.url, { headers: { range: "bytes=0-9" } });
      assert.equal(first.status, 206);
      assert.equal(first.headers.get("content-range"), `bytes 0-9/${bytes.length}`);
      assert.equal(first.headers.get("content-length"), "10");
      assert.deepEqual(Buffer.from(await first.arrayBuffer()), bytes.subarray(0, 10));

      const suffix = await fetch(server.url + file.url, { headers: { range: "bytes=-100" } });
      assert.equal(suffix.status, 206);
      assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), bytes.subarray(bytes.length - 100));

      // RFC 9110: a suffix longer than the file selects the whole file, still as a 206.
      for (const range of [`bytes=-${bytes.length + 1}`, "bytes=-999999999999"]) {
        const whole = await fetch(server.url + file.url, { headers: { range } });
        assert.equal(whole.status, 206, range);
        assert.equal(whole.headers.get("content-range"), `bytes 0-${bytes.length - 1}/${bytes.length}`, range);
        assert.equal(whole.headers.get("content-length"), String(bytes.length), range);
        assert.equal(sha256(Buffer.from(await whole.arrayBuffer())), sha256(bytes), range);
      }
      const emptySuffix = await fetch(server.url + file.url, { headers: { range: "bytes=-0" } });
      assert.equal(emptySuffix.status, 416, "a suffix of no bytes selects nothing");
      await emptySuffix.arrayBuffer();

      const open = await fetch(server.url + file.url, { headers: { range: `bytes=${bytes.length - 5}-` } });
      assert.deepEqual(Buffer.from(await open.arrayBuffer()), bytes.subarray(bytes.length - 5));

      const beyond = await fetch(server.url + file.url, { headers: { range: `bytes=${bytes.length + 10}-` } });
      assert.equal(beyond.status, 416);
      assert.equal(beyond.headers.get("content-range"), `bytes */${bytes.length}`);
      await beyond.arrayBuffer();

      const staleIfRange = await fetch(server.url + file.url, { headers: { range: "bytes=0-9", "if-range": '"other"' } });
      assert.equal(staleIfRange.status, 200, "a stale If-Range gets the whole file");
      assert.equal((await staleIfRange.arrayBuffer()).byteLength, bytes.length);
      assert.match(staleIfRange.headers.get("content-disposition")!, /^inline/);
    });

    it("answers conditional requests with 304 and HEAD without a body", async () => {
      const bytes = makePdf("conditional");
      const file = await uploaded(bytes, "doc.pdf");
      const res = await fetch(server.url + file.url, { headers: { "if-none-match": `"${sha256(bytes)}"` } });
      assert.equal(res.status, 304);
      const since = await fetch(server.url + file.url, { headers: { "if-modified-since": new Date(Date.now() + 60_000).toUTCString() } });
      assert.equal(since.status, 304);
      const changed = await fetch(server.url + file.url, { headers: { "if-none-match": '"something-else"' } });
      assert.equal(changed.status, 200);
      await changed.arrayBuffer();
      const head = await fetch(server.url + file.url, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), String(bytes.length));
      assert.equal(head.headers.get("content-type"), "application/pdf");
      assert.match(head.headers.get("content-disposition")!, /^inline/);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    });

    it("serves types outside the inline allow-list as attachments", async () => {
      const file = await uploaded(makeRtf(), "letter.rtf");
      const res = await fetch(server.url + file.url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/rtf");
      assert.match(res.headers.get("content-disposition")!, /^attachment; filename="?letter\.rtf"?$/);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      await res.arrayBuffer();
    });

    it("answers unknown and hostile names with 404 (403 first where every link must be signed)", async () => {
      // A private bucket behind the media route refuses unsigned requests before looking anything up.
      const unsigned = setup.storage === "s3" ? 403 : 404;
      const cases: Array<[string, number]> = [["image/2026/01/nope.jpg", unsigned], ["..%2f..%2fetc%2fpasswd", 404], ["%00", 404], [".incoming/x.jpg", unsigned]];
      for (const [name, status] of cases) {
        const res = await fetch(`${server.url}/media/${name}`);
        assert.equal(res.status, status, name);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        await res.arrayBuffer();
      }
    });
  });
}
