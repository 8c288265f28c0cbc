import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ShelfFilesDocument, UploadShelfDocument } from "./generated/graphql.js";
import { errorCode, gql, upload, uploadShelf } from "./helpers/graphql.js";
import { makeAv, makeMp4 } from "./helpers/media.js";
import { DEFAULT_VERSIONS, listFiles, startTestServer, type TestServer } from "./helpers/server.js";
import { waitFor, settledVersion, fetchBytes, probe, type Probe } from "./helpers/versions.js";

/** Audio and video versions: codecs, sizes, durations, metadata stripped; every accepted format; hostile input. */
describe("audio and video versions", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", DEFAULT_VERSIONS);
  });
  after(() => server.close());

  test("mp4-720p is made after upload: H.264 + AAC, yuv420p, faststart, never upscaled", async () => {
    const shelf = await uploadShelf(server.url, await makeMp4(2, "320x240"), "clip.mp4");
    const mp4 = await waitFor("eager mp4-720p", async () => {
      const res = await gql(server.url, ShelfFilesDocument, { id: shelf.id });
      const file = res.data!.shelf!.files.find((f) => f.preset === "mp4-720p");
      return file?.status === "READY" ? file : undefined;
    });
    assert.equal(mp4.progress, 1);
    const body = (await fetchBytes(server, mp4.url)).body;
    const p = await probe(body);
    const video = p.streams.find((s) => s.codec_type === "video")!;
    const audio = p.streams.find((s) => s.codec_type === "audio")!;
    assert.deepEqual([video.codec_name, video.width, video.height, video.pix_fmt], ["h264", 320, 240, "yuv420p"]);
    assert.equal(audio.codec_name, "aac");
    assert.ok(Math.abs(Number(p.format.duration) - 2) < 0.2, `duration ${p.format.duration}`);
    assert.ok(body.indexOf("moov") < body.indexOf("mdat"), "faststart puts the index first");
    assert.deepEqual([mp4.width, mp4.height, mp4.videoCodec, mp4.audioCodec, mp4.frameRate], [320, 240, "h264", "aac", 15]);
    assert.ok(mp4.bitrate! > 0);
    const files = (await gql(server.url, ShelfFilesDocument, { id: shelf.id })).data!.shelf!.files;
    const original = files.find((f) => f.role === "ORIGINAL")!;
    assert.deepEqual([original.videoCodec, original.audioCodec, original.frameRate], ["h264", "aac", 15]);
  });

  test("a 1080p portrait video becomes 720 wide, orientation kept", async () => {
    const portrait = await makeAv("portrait.mp4", [
      "-f", "lavfi", "-i", "testsrc=duration=1:size=1080x1920:rate=10",
      "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
    ]);
    const shelf = await uploadShelf(server.url, portrait, "portrait.mp4");
    const webm = await settledVersion(server, shelf.id, "webm-720p");
    assert.equal(webm.status, "READY", webm.error ?? "");
    const p = await probe((await fetchBytes(server, webm.url)).body);
    const video = p.streams.find((s) => s.codec_type === "video")!;
    assert.deepEqual([video.codec_name, video.width, video.height], ["vp9", 720, 1280]);
  });

  test("audio presets: mp3, aac in m4a, opus in ogg, duration kept", async () => {
    // Tagged with a title and a place, which no version may carry on.
    const tagged = await makeAv("tagged.mp3", [
      "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "libmp3lame",
      "-metadata", "title=Secret title", "-metadata", "location=+48.8577+002.2950/",
    ]);
    assert.ok(tagged.includes(Buffer.from("Secret title")));
    const shelf = await uploadShelf(server.url, tagged, "tone.mp3");
    const expected = { "mp3-128k": ["mp3", "mp3"], "aac-128k": ["aac", "mov,mp4,m4a,3gp,3g2,mj2"], "opus-96k": ["opus", "ogg"] } as const;
    for (const [preset, [codec, format]] of Object.entries(expected)) {
      const v = await settledVersion(server, shelf.id, preset);
      assert.equal(v.status, "READY", `${preset}: ${v.error}`);
      const p = await probe((await fetchBytes(server, v.url)).body);
      assert.deepEqual([p.streams[0]!.codec_name, p.format.format_name], [codec, format], preset);
      assert.ok(Math.abs(Number(p.format.duration) - 3) < 0.25, `${preset} duration ${p.format.duration}`);
      assert.equal(p.format.tags?.title, undefined);
      assert.equal(p.format.tags?.location, undefined);
      assert.ok(!(await fetchBytes(server, v.url)).body.includes(Buffer.from("Secret title")), `${preset} carries the title`);
    }
  });
});

describe("every accepted audio and video format makes versions", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite");
  });
  after(() => server.close());

  const clip = (name: string, codec: string[]) =>
    makeAv(name, ["-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=10", "-f", "lavfi", "-i", "sine=frequency=500:duration=1", "-shortest", ...codec]);
  const tone = (name: string, codec: string[]) => makeAv(name, ["-f", "lavfi", "-i", "sine=frequency=300:duration=1", ...codec]);
  const cases: Array<[string, () => Promise<Buffer>, string, (p: Probe) => unknown[], unknown[]]> = [
    ["mp4/H.264", () => clip("m.mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]), "mp4-720p", (p) => p.streams.map((s) => s.codec_name), ["h264", "aac"]],
    ["mov", () => clip("m.mov", ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]), "mp4-720p", (p) => p.streams.map((s) => s.codec_name), ["h264", "aac"]],
    ["webm/VP9", () => clip("m.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"]), "mp4-720p", (p) => p.streams.map((s) => s.codec_name), ["h264", "aac"]],
    ["mkv", () => clip("m.mkv", ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac"]), "webm-720p", (p) => p.streams.map((s) => s.codec_name), ["vp9", "opus"]],
    ["mp3", () => tone("t.mp3", ["-c:a", "libmp3lame"]), "opus-96k", (p) => [p.streams[0]!.codec_name], ["opus"]],
    ["wav", () => tone("t.wav", []), "mp3-128k", (p) => [p.streams[0]!.codec_name], ["mp3"]],
    ["flac", () => tone("t.flac", []), "aac-128k", (p) => [p.streams[0]!.codec_name], ["aac"]],
    ["ogg", () => tone("t.ogg", ["-c:a", "libvorbis"]), "mp3-128k", (p) => [p.streams[0]!.codec_name], ["mp3"]],
  ];
  for (const [format, make, preset, read, expected] of cases) {
    test(`${format} → ${preset}`, async () => {
      const shelf = await uploadShelf(server.url, await make(), `input.${format.split("/")[0]}`);
      const v = await settledVersion(server, shelf.id, preset);
      assert.equal(v.status, "READY", v.error ?? "");
      const p = await probe((await fetchBytes(server, v.url)).body);
      assert.deepEqual(read(p), expected);
      assert.ok(Math.abs(Number(p.format.duration) - 1) < 0.2, `duration ${p.format.duration}`);
    });
  }

});

describe("hostile audio and video", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", DEFAULT_VERSIONS);
  });
  after(() => server.close());

  const refusedUploads: Array<[string, string]> = [
    ["an HLS playlist named .mp4", "#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"],
    ["an ffconcat script named .mp4", "ffconcat version 1.0\nfile /etc/passwd\n"],
  ];
  for (const [what, text] of refusedUploads) {
    test(`${what} is refused and nothing is stored`, async () => {
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes: Buffer.from(text), filename: "video.mp4", contentType: "video/mp4" },
      ]);
      assert.equal(errorCode(res), "UNSUPPORTED_MEDIA_TYPE");
      assert.deepEqual((await listFiles(server.mediaRoot)).filter((f) => !f.startsWith("versions/")), []);
    });
  }

  test("a truncated video is refused or ends FAILED with a message; the service stays up", async () => {
    const whole = await makeAv("faststart.mp4", [
      "-f", "lavfi", "-i", "testsrc=duration=3:size=320x240:rate=15",
      "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
    ]);
    const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
      { variable: "input.file", bytes: whole.subarray(0, Math.floor(whole.length * 0.4)), filename: "cut.mp4" },
    ]);
    // The index at the front says 3 s; the frames stop early. Upload reads the index only, so
    // the version is where the damage shows.
    assert.equal(res.errors, undefined);
    const v = await settledVersion(server, res.data!.uploadShelf.id, "webm-720p");
    assert.equal(v.status, "FAILED");
    assert.match(v.error ?? "", /truncated or damaged: only \d\.\d s of its 3\.0 s/);
    assert.equal((await listFiles(server.mediaRoot)).filter((f) => f.includes(v.name)).length, 0);
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
  });
});
