import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp4 } from "./helpers/media.js";
import { DEFAULT_VERSIONS, listFiles, startTestServer } from "./helpers/server.js";
import { run, waitFor, version, settledVersion } from "./helpers/versions.js";

/** Limits on transcoding: queues kept apart, deadlines, and what ffmpeg may read. */
describe("transcoding limits", () => {
  test("video work never starves image thumbnails, and progress is reported", async () => {
    const server = await startTestServer("pglite", { ...DEFAULT_VERSIONS, JOBS_AV_CONCURRENCY: "1", JOBS_IMAGE_CONCURRENCY: "1" });
    try {
      const video = await uploadShelf(server.url, await makeMp4(8, "640x480"), "slow.mp4");
      await version(server, video.id, "webm-720p");
      const progress = await waitFor("webm progress", async () => {
        const row = await server.app.db.prisma.mediaFile.findFirst({ where: { shelfId: video.id, preset: "webm-720p" } });
        return row?.status === "PROCESSING" && row.progress !== null && row.progress > 0 && row.progress < 1 ? row.progress : undefined;
      });
      assert.ok(progress > 0 && progress < 1);
      const image = await uploadShelf(server.url, await makeImage(800, 600, "jpeg"), "quick.jpg");
      const thumb = await settledVersion(server, image.id, "thumb");
      assert.equal(thumb.status, "READY");
      const webm = await version(server, video.id, "webm-720p");
      assert.notEqual(webm.status, "READY", "the image was done while the video was still being made");
      await settledVersion(server, video.id, "webm-720p");
    } finally {
      await server.close();
    }
  });

  test("a transcode past its deadline is killed and ends FAILED; nothing is left running or stored", async () => {
    // No eager versions or poster frames: the one ffmpeg run is the one that times out.
    const server = await startTestServer("pglite", { TRANSCODE_TIMEOUT_MS: "300" });
    try {
      const video = await uploadShelf(server.url, await makeMp4(8, "640x480"), "deadline.mp4");
      const webm = await settledVersion(server, video.id, "webm-720p");
      assert.equal(webm.status, "FAILED");
      assert.match(webm.error ?? "", /Transcoding took longer than \d+ s and was stopped/);
      const { stdout } = await run("ps", ["-o", "args=", "--ppid", String(process.pid)]);
      assert.ok(!stdout.includes("ffmpeg"), `ffmpeg left running:\n${stdout}`);
      assert.deepEqual((await listFiles(server.mediaRoot)).filter((f) => f.includes("webm-720p") || f.startsWith(".incoming")), []);
    } finally {
      await server.close();
    }
  });

  test("ffmpeg is run with the demuxer forced, local files only and no stdin", async () => {
    const { videoArgs, audioArgs, posterArgs } = await import("../src/transcode/av.js");
    const recipe = { type: "video", container: "mp4", maxShortSide: 720, crf: 23, audioBitrateK: 128 } as const;
    for (const args of [
      videoArgs("/in", "mov", "/out.mp4", recipe),
      audioArgs("/in", "mp3", "/out.ogg", { type: "audio", codec: "opus", bitrateK: 96 }),
      posterArgs("/in", "matroska", "/out.png", 1),
    ]) {
      const input = args.indexOf("-i");
      assert.equal(args[input + 1], "file:/in");
      assert.equal(args[args.indexOf("-f")], "-f");
      assert.ok(args.indexOf("-f") < input, "the demuxer is forced before the input");
      assert.deepEqual(args.slice(args.indexOf("-protocol_whitelist"), args.indexOf("-protocol_whitelist") + 2), ["-protocol_whitelist", "file,pipe"]);
      assert.ok(args.includes("-nostdin"));
      assert.deepEqual(args.slice(args.indexOf("-map_metadata"), args.indexOf("-map_metadata") + 2), ["-map_metadata", "-1"]);
      assert.ok(args.at(-1)!.startsWith("file:/out"));
    }
  });
});
