import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ShelfVersionDocument, UploadShelfDocument } from "./generated/graphql.js";
import { errorCode, gql, upload, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp4 } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** What the decoders and probers write about a bad file, which must stay in the server log. */
const TOOL_OUTPUT = /Input file|Invalid data|moov atom|VipsForeign|Vips[A-Z]|pngload|jpegload|spawn|ENOENT|file:/i;

/** Bytes that sniff as MP4 (the ftyp box is there) and are garbage after it. */
async function corruptMp4(): Promise<Buffer> {
  return Buffer.concat([(await makeMp4(1)).subarray(0, 32), Buffer.alloc(4096, 0xff)]);
}

/** A PNG signature and header chunk, then garbage where the image data should be. */
async function corruptPng(): Promise<Buffer> {
  const png = await makeImage(64, 64, "png");
  return Buffer.concat([png.subarray(0, 33), Buffer.alloc(2048, 0x5a)]);
}

/** Polls a version until `done` says it is there. */
async function versionWhen(server: TestServer, id: string, preset: string, done: (v: { status: string; error?: string | null }) => boolean) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await gql(server.url, ShelfVersionDocument, { id, preset });
    const v = res.data?.shelf?.version;
    assert.ok(v, JSON.stringify(res.errors));
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`version ${preset} of ${id} is still ${v.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const env of ["production", "development"] as const) {
  describe(`refusals name no server path and repeat no tool output (${env})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer("pglite", {
        NODE_ENV: env,
        // A transcoder that cannot be started: its error names the path it was looked for at.
        FFMPEG_PATH: path.join("/nonexistent", "tools", "ffmpeg"),
      });
    });
    after(() => server.close());

    function assertClean(what: string, text: string): void {
      assert.ok(!text.includes(server.sandbox), `${what} names the server's directory: ${text}`);
      assert.ok(!text.includes("/nonexistent"), `${what} names the tool's path: ${text}`);
      assert.ok(!TOOL_OUTPUT.test(text), `${what} repeats tool output: ${text}`);
    }

    async function refused(bytes: Buffer, filename: string) {
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes, filename }]);
      assert.equal(errorCode(res), "BAD_USER_INPUT", JSON.stringify(res.errors));
      // Development shows stack traces; the frames name source files, never the data directory.
      assertClean("the response", JSON.stringify(res));
      return res.errors![0]!.message;
    }

    it("a corrupt video that sniffs as MP4", async () => {
      const message = await refused(await corruptMp4(), "broken.mp4");
      assert.match(message, /could not be read/);
      assert.ok(server.logs.some((l) => /Invalid data|moov atom/.test(l)), "the prober's words are in the log");
    });

    it("a corrupt image that sniffs as PNG", async () => {
      const message = await refused(await corruptPng(), "broken.png");
      assert.match(message, /could not be read/);
    });

    it("a version whose image cannot be decoded", async () => {
      const whole = await makeImage(800, 600, "jpeg");
      const shelf = await uploadShelf(server.url, whole.subarray(0, Math.floor(whole.length / 2)), "cut.jpg");
      const v = await versionWhen(server, shelf.id, "medium", (x) => x.status === "FAILED");
      assert.match(v.error ?? "", /could not be transcoded/);
      assertClean("the version's error", v.error ?? "");
    });

    it("a version whose transcoder cannot be started", async () => {
      const shelf = await uploadShelf(server.url, await makeMp4(1), "clip.mp4");
      const v = await versionWhen(server, shelf.id, "mp4-720p", (x) => Boolean(x.error));
      assertClean("the version's error", v.error ?? "");
      assert.ok(server.logs.some((l) => l.includes("/nonexistent/tools/ffmpeg")), "the path is in the log");
    });
  });
}
