import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import sharp from "sharp";
import {
  AddVideoThumbnailDocument,
  KindPresetsDocument,
  SelectThumbnailDocument,
  ShelfFilesDocument,
  ShelfTransformDocument,
  ShelfVersionDocument,
  UploadShelfDocument,
  VideoThumbnailsDocument,
  DeleteShelfDocument,
  UpdateShelfDocument,
  ShelfSetDocument,
  ThumbPageDocument,
} from "./generated/graphql.js";
import { errorCode, gql, upload, uploadShelf } from "./helpers/graphql.js";
import { makeAv, makeImage, makeMp3, makeMp4 } from "./helpers/media.js";
import { DEFAULT_VERSIONS, databaseFlavours, listFiles, startTestServer, type TestServer } from "./helpers/server.js";

const run = promisify(execFile);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function version(server: TestServer, id: string, preset: string) {
  const res = await gql(server.url, ShelfVersionDocument, { id, preset });
  if (res.errors || !res.data?.shelf) throw new Error(JSON.stringify(res.errors));
  return res.data.shelf.version;
}

/** Asks for a version and waits until it is READY (or FAILED). */
/** A version's job once its first attempt has failed and been put off for a retry. */
async function retriedJob(server: TestServer, fileId: string) {
  return waitFor("the first attempt", async () => {
    const row = await server.app.db.prisma.job.findFirst({ where: { fileId } });
    return row?.lastError ? row : undefined;
  });
}

async function settledVersion(server: TestServer, id: string, preset: string) {
  return waitFor(`${preset} of ${id}`, async () => {
    const v = await version(server, id, preset);
    return v.status === "READY" || v.status === "FAILED" ? v : undefined;
  });
}

async function fetchBytes(server: TestServer, url: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(new URL(url, server.url));
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

interface Probe {
  format: { format_name: string; duration: string; tags?: Record<string, string> };
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; pix_fmt?: string }>;
}

async function probe(bytes: Buffer): Promise<Probe> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "probe-"));
  try {
    const file = path.join(dir, "media");
    await fs.writeFile(file, bytes);
    const { stdout } = await run("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", file]);
    return JSON.parse(stdout) as Probe;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function jpegWithExif(): Promise<Buffer> {
  // 300x200 stored, orientation 6 (displayed turned a quarter: 200x300), with GPS tags.
  return sharp({ create: { width: 300, height: 200, channels: 3, background: "#c83" } })
    .composite([{ input: Buffer.from(`<svg width="300" height="200"><rect width="150" height="100" fill="#06a"/></svg>`) }])
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExifMerge({
      IFD0: { Make: "TestCam" },
      IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 24/1", GPSLongitudeRef: "E", GPSLongitude: "2/1 21/1 3/1" },
    })
    .toBuffer();
}

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

  test("poster frames: three image shelves attached to the video, the first selected; select and add", async () => {
    const shelf = await uploadShelf(server.url, await makeMp4(2, "320x240"), "posters.mp4");
    const thumbs = await waitFor("poster frames", async () => {
      const res = await gql(server.url, VideoThumbnailsDocument, { id: shelf.id });
      const video = res.data!.shelf!;
      return "thumbnails" in video && video.thumbnails.length === 3 ? video : undefined;
    });
    assert.ok("thumbnails" in thumbs);
    assert.deepEqual(thumbs.thumbnails.map((t) => [t.width, t.height, t.thumbnailOf?.id]), Array(3).fill([320, 240, shelf.id]));
    assert.match(thumbs.thumbnails[0]!.title, /frame at 10%/);
    assert.equal(thumbs.thumbnail?.id, thumbs.thumbnails[0]!.id);
    const frame = (await fetchBytes(server, thumbs.thumbnails[1]!.original.url)).body;
    assert.equal((await sharp(frame).metadata()).format, "png");

    const selected = await gql(server.url, SelectThumbnailDocument, { videoShelfId: shelf.id, imageShelfId: thumbs.thumbnails[2]!.id });
    assert.equal(selected.data!.selectThumbnail.thumbnail?.id, thumbs.thumbnails[2]!.id);

    const stranger = await uploadShelf(server.url, await makeImage(50, 50, "png"), "other.png");
    const refused = await gql(server.url, SelectThumbnailDocument, { videoShelfId: shelf.id, imageShelfId: stranger.id });
    assert.equal(errorCode(refused), "BAD_USER_INPUT");

    const custom = await upload(server.url, AddVideoThumbnailDocument, { videoShelfId: shelf.id, file: null }, [
      { variable: "file", bytes: await makeImage(640, 360, "jpeg"), filename: "poster.jpg" },
    ]);
    assert.equal(custom.data?.addVideoThumbnail.thumbnailOf?.id, shelf.id, JSON.stringify(custom.errors));
    const after = await gql(server.url, VideoThumbnailsDocument, { id: shelf.id });
    const video = after.data!.shelf!;
    assert.ok("thumbnails" in video);
    assert.equal(video.thumbnails.length, 4);
    assert.equal(video.thumbnail?.id, custom.data!.addVideoThumbnail.id);

    // One selection per video, kept by the database: a frame cannot be selected by two videos,
    // and a video has a single column for its selection.
    const other = await uploadShelf(server.url, await makeMp4(1, "160x120"), "other.mp4");
    await assert.rejects(
      server.app.db.prisma.$executeRaw`UPDATE "Shelf" SET "selectedThumbnailId" = ${custom.data!.addVideoThumbnail.id}::uuid WHERE "id" = ${other.id}::uuid`,
      /unique/i,
    );

    // The library lists the video, not its frames.
    const listed = await gql(server.url, ShelfSetDocument, { first: 100 });
    const ids = listed.data!.viewer.library.shelfSet.edges.map((e) => e.node.id);
    assert.ok(ids.includes(shelf.id));
    assert.ok(video.thumbnails.every((t) => !ids.includes(t.id)), "poster frames are not in the library's list");

    // Its frames are seen as the video is: public with it, private again with it.
    const visibilityOf = async () =>
      (await server.app.db.prisma.shelf.findMany({ where: { thumbnailOfId: shelf.id }, select: { visibility: true } })).map((f) => f.visibility);
    await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { visibility: "PUBLIC" } });
    assert.deepEqual(await visibilityOf(), Array(4).fill("PUBLIC"));
    await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { visibility: "PRIVATE" } });
    assert.deepEqual(await visibilityOf(), Array(4).fill("PRIVATE"));

    // Deleting the video deletes its poster frames and every byte of them.
    const before = (await listFiles(server.mediaRoot)).length;
    const deleted = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
    assert.ok(deleted.data!.deleteShelf.deletedFiles >= 1 + 1 + 4, `deleted ${deleted.data!.deleteShelf.deletedFiles}`);
    assert.equal(await server.app.db.prisma.shelf.count({ where: { thumbnailOfId: shelf.id } }), 0);
    await waitFor("bytes deleted", async () => ((await server.app.db.prisma.storageDeletion.count()) === 0 ? true : undefined));
    const left = await listFiles(server.mediaRoot);
    assert.ok(left.every((f) => !f.includes(shelf.id)), left.join("\n"));
    assert.ok(left.length < before);
  });
});

describe("version jobs", () => {
  test("audio and video versions being made answer 202 with Retry-After", async () => {
    const server = await startTestServer("pglite", { ...DEFAULT_VERSIONS, JOBS_AV_CONCURRENCY: "0" });
    try {
      const shelf = await uploadShelf(server.url, await makeMp3(1), "tone.mp3");
      const pending = await version(server, shelf.id, "opus-96k");
      assert.equal(pending.status, "PENDING");
      assert.equal(pending.size, null);
      const res = await fetchBytes(server, pending.url);
      assert.equal(res.status, 202);
      assert.equal(res.headers.get("retry-after"), "5");
      assert.deepEqual(JSON.parse(res.body.toString()), { status: "PENDING", progress: null });
    } finally {
      await server.close();
    }
  });

  test("a version whose scratch directory cannot be made is retried, not failed", async () => {
    const server = await startTestServer("pglite", DEFAULT_VERSIONS);
    const tmpdir = process.env.TMPDIR;
    try {
      const shelf = await uploadShelf(server.url, await makeMp3(1), "tone.mp3");
      // The machine's scratch space is gone: nothing about the audio is wrong.
      process.env.TMPDIR = path.join(server.sandbox, "no-such-dir");
      const pending = await version(server, shelf.id, "opus-96k");
      const prisma = server.app.db.prisma;
      const job = await retriedJob(server, pending.id);
      assert.equal(job.attempts, 1);
      assert.match(job.lastError!, /No scratch directory for the version/);
      assert.equal(job.lockedBy, null);
      assert.ok(job.runAfter > new Date(), "it runs again after a backoff");
      const file = await prisma.mediaFile.findUniqueOrThrow({ where: { id: pending.id } });
      assert.equal(file.status, "PENDING");
    } finally {
      if (tmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpdir;
      await server.close();
    }
  });

  test("a version whose storage fails before reading it is retried and leaves no file open", async () => {
    const server = await startTestServer("pglite", DEFAULT_VERSIONS);
    try {
      const shelf = await uploadShelf(server.url, await makeMp3(1), "tone.mp3");
      // The shelf's versions directory cannot be made: a file holds its name.
      await fs.mkdir(path.join(server.mediaRoot, "versions"), { recursive: true });
      await fs.writeFile(path.join(server.mediaRoot, "versions", shelf.id), "in the way");
      const pending = await version(server, shelf.id, "mp3-128k");
      const prisma = server.app.db.prisma;
      const job = await retriedJob(server, pending.id);
      assert.equal(job.attempts, 1);
      assert.equal((await prisma.mediaFile.findUniqueOrThrow({ where: { id: pending.id } })).status, "PENDING");
      const scratchFiles = [];
      for (const fd of await fs.readdir("/proc/self/fd")) {
        const target = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => "");
        if (target.includes(`${path.sep}version-`)) scratchFiles.push(target);
      }
      assert.deepEqual(scratchFiles, [], "no scratch output is left open");
    } finally {
      await server.close();
    }
  });

  test("a job cut short by a crash runs again after restart", async () => {
    const sandboxEnv = { ...DEFAULT_VERSIONS, JOBS_IMAGE_CONCURRENCY: "0" };
    const first = await startTestServer("pglite", sandboxEnv);
    const dataDir = first.dataDir;
    const shelf = await uploadShelf(first.url, await makeImage(400, 300, "png"), "crash.png");
    const pending = await version(first, shelf.id, "small");
    // As a worker that died mid-job leaves it: claimed, PROCESSING, its lease run out.
    await first.app.db.prisma.job.updateMany({ data: { lockedBy: "dead-worker", lockedUntil: new Date(Date.now() - 1000), attempts: 1 } });
    await first.app.db.prisma.mediaFile.update({ where: { id: pending.id }, data: { status: "PROCESSING" } });
    await first.app.close();
    const second = await startTestServer("pglite", { ...DEFAULT_VERSIONS, DATA_DIR: dataDir });
    try {
      const ready = await settledVersion(second, shelf.id, "small");
      assert.equal(ready.status, "READY");
      assert.equal(ready.id, pending.id);
      assert.equal((await sharp((await fetchBytes(second, ready.url)).body).metadata()).width, 400);
      assert.equal(await second.app.db.prisma.job.count(), 0);
    } finally {
      await second.close();
      await fs.rm(first.sandbox, { recursive: true, force: true });
    }
  });

  test("stopping the service stops the transcode under way and hands its job back", async () => {
    const first = await startTestServer("pglite", DEFAULT_VERSIONS);
    try {
      const shelf = await uploadShelf(first.url, await makeMp4(8, "640x480"), "stop.mp4");
      const pending = await version(first, shelf.id, "webm-720p");
      await waitFor("webm under way", async () => {
        const row = await first.app.db.prisma.mediaFile.findUnique({ where: { id: pending.id } });
        return row?.status === "PROCESSING" ? true : undefined;
      });
      const started = Date.now();
      await first.app.close();
      assert.ok(Date.now() - started < 5000, `closing took ${Date.now() - started} ms`);
      const second = await startTestServer("pglite", { ...DEFAULT_VERSIONS, DATA_DIR: first.dataDir, JOBS_AV_CONCURRENCY: "0" });
      try {
        const job = await second.app.db.prisma.job.findUnique({ where: { fileId: pending.id } });
        assert.deepEqual([job?.lockedBy, job?.attempts], [null, 0], "handed back, the attempt not counted");
        const row = await second.app.db.prisma.mediaFile.findUnique({ where: { id: pending.id } });
        assert.equal(row?.status, "PENDING");
      } finally {
        await second.close();
      }
    } finally {
      await fs.rm(first.sandbox, { recursive: true, force: true });
    }
  });

  test("deleting a shelf while its version is made leaves no file and no row", async () => {
    const server = await startTestServer("pglite", DEFAULT_VERSIONS);
    try {
      const clip = await makeMp4(6, "640x480");
      const shelf = await uploadShelf(server.url, clip, "long.mp4");
      await version(server, shelf.id, "webm-720p");
      await waitFor("webm under way", async () => {
        const row = await server.app.db.prisma.mediaFile.findFirst({ where: { shelfId: shelf.id, preset: "webm-720p" } });
        return row?.status === "PROCESSING" ? true : undefined;
      });
      const deleted = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
      assert.equal(deleted.data?.deleteShelf.deleted, true);
      // The job under way finishes after the delete, finds no shelf and removes what it made.
      await waitFor("the job under way to end", async () => (server.logs.some((l) => l.includes("was made after its shelf was deleted")) ? true : undefined), 120_000).catch((err) => { throw new Error(`${err.message}; logs: ${server.logs.slice(-8).join(" / ")}`); });
      await waitFor("deletions", async () => ((await server.app.db.prisma.storageDeletion.count()) === 0 ? true : undefined));
      const left = (await listFiles(server.mediaRoot)).filter((f) => f.includes(shelf.id) || f.startsWith(".incoming"));
      assert.deepEqual(left, []);
      assert.equal(await server.app.db.prisma.mediaFile.count({ where: { shelfId: shelf.id } }), 0);
      assert.equal(await server.app.db.prisma.shelf.count({ where: { OR: [{ id: shelf.id }, { thumbnailOfId: shelf.id }] } }), 0);
    } finally {
      await server.close();
    }
  });
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

describe("versions across processes and recipes", () => {
  test("npm run worker makes the versions a service without workers queues", async (t) => {
    if (!(await databaseFlavours()).includes("postgresql")) return t.skip("needs PostgreSQL");
    const service = await startTestServer("postgresql", { ...DEFAULT_VERSIONS, JOBS_IMAGE_CONCURRENCY: "0", JOBS_AV_CONCURRENCY: "0" });
    const worker = spawn("npm", ["run", "--silent", "worker"], {
      cwd: path.resolve(import.meta.dirname, ".."),
      env: { ...process.env, ...DEFAULT_VERSIONS, NODE_ENV: "test", DATA_DIR: path.join(service.sandbox, "worker"), DATABASE_URL: service.databaseUrl!, MEDIA_ROOT: service.mediaRoot, JOBS_POLL_MS: "200" },
      detached: true,
    });
    let output = "";
    worker.stdout.on("data", (d) => (output += d));
    worker.stderr.on("data", (d) => (output += d));
    try {
      const shelf = await uploadShelf(service.url, await makeImage(640, 480, "jpeg"), "queued.jpg");
      const thumb = await settledVersion(service, shelf.id, "thumb");
      assert.equal(thumb.status, "READY");
      assert.equal(service.app.services.versions.generations, 0, "the service made nothing itself");
      assert.match(output, /worker running: image ×2, av ×1/);
      // The worker logs once its statement has returned, a moment after the row reads READY.
      const made = new RegExp(`made version thumb of shelf ${shelf.id}`);
      await waitFor("the worker's log line", async () => (made.test(output) ? true : undefined), 10_000);
      assert.equal((await sharp(await service.readStored(thumb.name)).metadata()).width, 200);
    } finally {
      process.kill(-worker.pid!, "SIGTERM");
      await new Promise((r) => worker.once("exit", r));
      await service.close();
    }
  });

  test("50 concurrent requests split over two processes on one database make the version once", async (t) => {
    if (!(await databaseFlavours()).includes("postgresql")) return t.skip("needs PostgreSQL");
    const signing = { MEDIA_SIGNING_KEY: "k".repeat(40) };
    const a = await startTestServer("postgresql", { ...DEFAULT_VERSIONS, ...signing });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: path.resolve(import.meta.dirname, ".."),
      env: {
        ...process.env, ...DEFAULT_VERSIONS, ...signing,
        NODE_ENV: "test", PORT: String(port), DATA_DIR: path.join(a.sandbox, "second"),
        DATABASE_URL: a.databaseUrl!, MEDIA_ROOT: a.mediaRoot,
      },
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const b = { url: `http://127.0.0.1:${port}` } as TestServer;
    try {
      await waitFor("the second process", async () => (output.includes("listening on") ? true : undefined), 60_000);
      const shelf = await uploadShelf(a.url, await makeImage(1600, 1200, "jpeg"), "shared.jpg");
      await settledVersion(a, shelf.id, "thumb");
      const before = a.app.services.versions.generations;
      const asked = await Promise.all(Array.from({ length: 50 }, (_, i) => version(i % 2 ? b : a, shelf.id, "medium")));
      assert.equal(new Set(asked.map((v) => v.id)).size, 1);
      const served = await Promise.all(asked.map((v, i) => fetchBytes(i % 2 ? b : a, v.url)));
      assert.deepEqual(new Set(served.map((r) => r.status)), new Set([200]));
      const inA = a.app.services.versions.generations - before;
      const inB = output.split("\n").filter((l) => l.includes(`made version medium of shelf ${shelf.id}`)).length;
      assert.equal(inA + inB, 1, `made ${inA} times in the first process and ${inB} in the second`);
      assert.equal(await a.app.db.prisma.mediaFile.count({ where: { shelfId: shelf.id, variant: "medium" } }), 1);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await a.close();
    }
  });

  test("a changed recipe marks versions stale; regenerate remakes them and removes the old bytes", async () => {
    const first = await startTestServer("pglite", DEFAULT_VERSIONS);
    const shelves = [];
    for (let i = 0; i < 3; i++) shelves.push(await uploadShelf(first.url, await makeImage(600, 400, "jpeg"), `r${i}.jpg`));
    const oldThumbs = await Promise.all(shelves.map((s) => settledVersion(first, s.id, "thumb")));
    await first.app.close();
    const presets = JSON.stringify({ IMAGE: { thumb: { recipe: { width: 120, height: 120, format: "jpeg" } } } });
    const second = await startTestServer("pglite", { ...DEFAULT_VERSIONS, DATA_DIR: first.dataDir, MEDIA_PRESETS: presets, JOBS_IMAGE_CONCURRENCY: "0" });
    try {
      const res = await gql(second.url, ShelfFilesDocument, { id: shelves[0]!.id });
      const stale = res.data!.shelf!.files.find((f) => f.preset === "thumb")!;
      assert.equal(stale.stale, true);
      assert.equal(stale.status, "READY", "a stale version keeps serving");
      await second.app.close();

      const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "src/cli/media.ts", "regenerate", "--kind", "image", "--preset", "thumb"], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: { ...process.env, NODE_ENV: "test", DATA_DIR: first.dataDir, MEDIA_PRESETS: presets, VIDEO_POSTER_POSITIONS: "" },
      });
      assert.match(stdout, /regenerated 3 version\(s\) of 3 shelf\(s\)/);
      assert.match(stderr, /\[#+\] 3\/3 shelves/);
      const onlyMissing = await run(process.execPath, ["--import", "tsx", "src/cli/media.ts", "regenerate", "--only-missing", "--preset", "thumb"], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: { ...process.env, NODE_ENV: "test", DATA_DIR: first.dataDir, MEDIA_PRESETS: presets, VIDEO_POSTER_POSITIONS: "" },
      });
      assert.match(onlyMissing.stdout, /regenerated 0 version\(s\) of 3 shelf\(s\)/);
      // A run cut short after the first shelf (in id order) carries on from its checkpoint.
      const sorted = shelves.map((x) => x.id).sort();
      await fs.writeFile(path.join(first.dataDir, "regenerate.checkpoint.json"), JSON.stringify({ lastShelfId: sorted[0] }));
      const resumed = await run(process.execPath, ["--import", "tsx", "src/cli/media.ts", "regenerate", "--resume", "--only-missing", "--preset", "small"], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: { ...process.env, NODE_ENV: "test", DATA_DIR: first.dataDir, MEDIA_PRESETS: presets, VIDEO_POSTER_POSITIONS: "" },
      });
      assert.match(resumed.stdout, new RegExp(`resuming after shelf ${sorted[0]}`));
      assert.match(resumed.stdout, /regenerated 2 version\(s\) of 2 shelf\(s\)/);
      await assert.rejects(fs.access(path.join(first.dataDir, "regenerate.checkpoint.json")), "a finished run leaves no checkpoint");
      const third = await startTestServer("pglite", { ...DEFAULT_VERSIONS, DATA_DIR: first.dataDir, MEDIA_PRESETS: presets });
      try {
        for (const [i, shelf] of shelves.entries()) {
          const thumb = await version(third, shelf.id, "thumb");
          assert.deepEqual([thumb.status, thumb.stale, thumb.mimeType, thumb.width, thumb.height], ["READY", false, "image/jpeg", 120, 120]);
          assert.notEqual(thumb.name, oldThumbs[i]!.name);
          const meta = await sharp((await fetchBytes(third, thumb.url)).body).metadata();
          assert.deepEqual([meta.format, meta.width], ["jpeg", 120]);
        }
        const stored = await listFiles(third.mediaRoot);
        for (const old of oldThumbs) assert.ok(!stored.includes(old.name), `${old.name} is still stored`);
      } finally {
        await third.close();
      }
    } finally {
      await fs.rm(first.sandbox, { recursive: true, force: true });
    }
  });
});

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

describe("every accepted format makes versions", () => {
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
