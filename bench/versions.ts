/**
 * Versions benchmark: what making versions through the service costs against doing the same work
 * bare, each baseline measured in the same run.
 *
 * Before any service starts it makes its media in a temp dir: BENCH_IMAGES (40) distinct
 * BENCH_IMAGE_SIZE (1600x1200) JPEGs (noise under a random gradient and circles, ~650 KB each at
 * that size) plus BENCH_WARMUP_IMAGES (20) more for warm-up,
 * two 2000x1500 JPEGs, one 6000x4000 JPEG, and a BENCH_VIDEO_SECONDS (30) s 1080p30 H.264 + AAC
 * clip (ffmpeg lavfi testsrc2 + sine, libx264 veryfast, yuv420p). Then, in one run:
 *
 *  (a) Thumbnails on demand. The real service (`node lib/main.js` as `npm start` runs it, compiled
 *      by `npm run build` when the bench starts; a child process,
 *      embedded PGlite, NODE_ENV=production, no eager versions: MEDIA_PRESETS turns `thumb` (and
 *      `mp4-720p`) lazy, VIDEO_POSTER_POSITIONS='') gets every image uploaded once per round; then
 *      C clients, C being the service's image concurrency (JOBS_IMAGE_CONCURRENCY, 2 by default),
 *      ask `shelf(id) { version(preset: "thumb") { url } }` and GET the url (the media route waits
 *      for image versions) for each image, from the first request until the last byte: images/s.
 *      Baseline: a fresh Node process (versions/bare-sharp.ts) running sharp with the very options the service uses
 *      (200x200 cover, webp q80, autoOrient, failOn warning, limitInputPixels, no enlargement) on
 *      the same files, file to file, at the same concurrency C, after the same warm-up images.
 *      BENCH_IMAGE_ROUNDS (3) rounds, the side that goes first alternating; best of each side.
 *      Every service thumbnail must be 200 and byte-identical to the baseline's. Target >= 0.85.
 *      Measured with the service on the embedded PGlite and again, when one answers, on
 *      PostgreSQL (a database created for the run). Beside the throughput it prints the CPU time
 *      per image (/proc), which competing processes do not inflate as they do wall time, split by
 *      thread: JavaScript (the service's main thread, where the embedded database runs too),
 *      libvips workers, "node" (libuv's pool and V8's helpers), and threads gone by the end.
 *  (b) mp4-720p of the clip through the job system: the time from the GraphQL request that
 *      enqueues the version until it is READY (the service's "made version" log line, or a
 *      GraphQL status poll every 250 ms, whichever comes first), against the bare ffmpeg command
 *      with the identical argument list (`videoArgs` with the preset's recipe). BENCH_VIDEO_RUNS
 *      (2) of each, in the order bare, service, service, bare; best of each. Target <= 1.05.
 *  (c) Single flight: 50 (BENCH_CONCURRENT_REQUESTS) concurrent `version(preset: "medium")`
 *      requests, each followed by a GET of its url, for one image that has none; the
 *      generations are the service's "made version medium of shelf <id>" lines. Baseline: one
 *      request for another image. Every GET must be 200 with the same bytes. Target exactly 1.
 *  (d) Peak RSS during 8 concurrent ad-hoc transforms (`transform(input: { width: W, format:
 *      WEBP })`, 8 distinct widths, each asked for and fetched concurrently) of the 6000x4000
 *      JPEG, in a service process per database: the embedded PGlite (as installed) and, when one
 *      answers, PostgreSQL (a database created for the run and dropped). Each service is started
 *      once (applying the migrations), stopped and measured after a restart on the same data, as
 *      a deployed service runs: on PGlite a first start leaves a much larger WebAssembly heap
 *      (its idle RSS is printed too). Baseline: a fresh Node process running the same 8 sharp
 *      transforms at once. Both processes are measured
 *      alike: settled RSS first, VmHWM reset (`echo 5 > /proc/<pid>/clear_refs`) and VmRSS
 *      polled every 50 ms; peak = max of the two. Prints peak and peak minus idle. The ratio is
 *      of peak RSS; target <= 1.3.
 *
 * Prints every run, then a summary table (metric, service, baseline, ratio, target, met); exits 0
 * whether or not the targets are met, 1 when something fails. Child processes, temp dirs and the
 * database are removed on every exit path.
 *
 * Run: npm run bench:versions
 * (optional env: BENCH_IMAGES=40, BENCH_IMAGE_SIZE=1600x1200, BENCH_WARMUP_IMAGES=20,
 *  BENCH_IMAGE_ROUNDS=3, BENCH_VIDEO_SECONDS=30, BENCH_VIDEO_RUNS=2,
 *  BENCH_CONCURRENT_REQUESTS=50, BENCH_PARTS=a,b,c,d (a subset runs only those), BENCH_POSTGRES=1
 *  (0 skips PostgreSQL), BENCH_POSTGRES_URL (default TEST_POSTGRES_URL or
 *  postgresql://postgres@127.0.0.1:5432/postgres); JOBS_IMAGE_CONCURRENCY and JOBS_AV_CONCURRENCY
 *  are passed to the service)
 */
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { makeTempDir, stopChild } from "./harness/children.js";
import { runBenchmark } from "./harness/lifecycle.js";
import { buildService } from "./harness/service.js";
import { MiB, secondsSince } from "./harness/settings.js";
import { printTable } from "./harness/table.js";
import { makeJpeg, makeVideo } from "./versions/media.js";
import { partMemory } from "./versions/memory.js";
import { withPostgresDatabase } from "./versions/postgres.js";
import { startService, versionsServiceEnv } from "./versions/service.js";
import { IMAGE_SIZE, IMAGES, PARTS, VIDEO_SECONDS, WARMUP_IMAGES, type Report, type Setup } from "./versions/settings.js";
import { partSingleFlight } from "./versions/single-flight.js";
import { partThumbs } from "./versions/thumbs.js";
import { partVideo } from "./versions/video.js";

/** The media every part asks for, made before any service runs (only what the parts chosen need). */
async function makeMedia(root: string, ffmpegPath: string) {
  const media = path.join(root, "media");
  await fsp.mkdir(media);
  const files = {
    thumbs: Array.from({ length: IMAGES }, (_, i) => path.join(media, `photo-${i}.jpg`)),
    warm: Array.from({ length: WARMUP_IMAGES }, (_, i) => path.join(media, `warm-${i}.jpg`)),
    flight: [path.join(media, "flight-a.jpg"), path.join(media, "flight-b.jpg")],
    bigImage: path.join(media, "big-6000x4000.jpg"),
    video: path.join(media, `clip-${VIDEO_SECONDS}s-1080p.mp4`),
  };
  let t = performance.now();
  if (PARTS.has("a")) {
    await Promise.all([...files.thumbs, ...files.warm].map((file, i) => makeJpeg(file, IMAGE_SIZE.width, IMAGE_SIZE.height, i)));
    const average = (await Promise.all(files.thumbs.map((f) => fsp.stat(f)))).reduce((n, s) => n + s.size, 0) / IMAGES;
    console.log(`made ${IMAGES} + ${WARMUP_IMAGES} distinct JPEGs ${IMAGE_SIZE.label} (${(average / 1024).toFixed(0)} KB on average) in ${secondsSince(t).toFixed(1)} s`);
  }
  if (PARTS.has("c")) await Promise.all(files.flight.map((file, i) => makeJpeg(file, 2000, 1500, 2000 + i)));
  if (PARTS.has("d")) {
    t = performance.now();
    await makeJpeg(files.bigImage, 6000, 4000, 3000);
    console.log(`made the 6000x4000 JPEG (${((await fsp.stat(files.bigImage)).size / MiB).toFixed(1)} MiB) in ${secondsSince(t).toFixed(1)} s`);
  }
  if (PARTS.has("b")) {
    t = performance.now();
    await makeVideo(ffmpegPath, files.video, VIDEO_SECONDS);
    console.log(`made the ${VIDEO_SECONDS} s 1080p30 H.264 + AAC clip (${((await fsp.stat(files.video)).size / MiB).toFixed(1)} MiB) in ${secondsSince(t).toFixed(1)} s`);
  }
  return files;
}

async function main(): Promise<void> {
  const started = performance.now();
  const load = () => os.loadavg().map((n) => n.toFixed(1)).join(" ");
  const { loadConfig } = await import("../src/config.js");
  const root = makeTempDir("versions-bench-");
  // The configuration the services run with (the same environment), for the bare sides' settings.
  const config = loadConfig(versionsServiceEnv(path.join(root, "unused")));
  const concurrency = config.jobs.imageConcurrency;
  if (concurrency < 1) throw new Error("JOBS_IMAGE_CONCURRENCY is 0: the service would make no image versions");
  const setup: Setup = { root, config, concurrency };
  const cpus = os.cpus().length;
  console.log(
    `versions benchmark (${[...PARTS].join(", ")}): Node ${process.version}, ${cpus} CPUs, load average ${load()}, ` +
      `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), image job concurrency ${concurrency}, av ${config.jobs.avConcurrency}; temp dir ${root}`,
  );

  // The service runs as `npm start` runs it: compiled to lib/ first.
  buildService();
  const files = await makeMedia(root, config.ffmpeg.ffmpegPath);

  const report: Report = { rows: [], notes: [] };
  if (PARTS.has("a") || PARTS.has("b") || PARTS.has("c")) {
    const service = await startService("pglite", root);
    try {
      console.log(`\nservice (embedded PGlite) ready in ${service.startupSeconds.toFixed(1)} s, pid ${service.child.pid}, ${service.url}`);
      if (PARTS.has("a")) await partThumbs(setup, service, "PGlite", files, report);
      if (PARTS.has("c")) await partSingleFlight(service, files.flight, report);
      if (PARTS.has("b")) await partVideo(setup, service, files.video, report);
    } finally {
      await stopChild(service.child, 5000);
    }
  }
  if (PARTS.has("a")) {
    await withPostgresDatabase(async (url, version) => {
      const service = await startService("postgresql", root, url);
      try {
        console.log(`\nservice (PostgreSQL ${version}) ready in ${service.startupSeconds.toFixed(1)} s, pid ${service.child.pid}, ${service.url}`);
        await partThumbs(setup, service, `PostgreSQL ${version}`, files, report);
      } finally {
        await stopChild(service.child, 5000);
      }
    });
  }
  if (PARTS.has("d")) await partMemory(setup, files.bigImage, report);

  printTable(["metric", "service", "baseline", "ratio", "target", "met"], report.rows);
  console.log("");
  for (const note of report.notes) console.log(note);
  console.log(
    "baselines: (a) raw sharp, same options, in its own Node process, file to file; (b) the same ffmpeg argument list run bare; " +
      "(c) one request; (d) the same 8 sharp transforms at once in a bare Node process",
  );
  const loadNow = os.loadavg()[0]!;
  console.log(
    `\ntotal runtime ${secondsSince(started).toFixed(0)} s; load average now ${load()}` +
      (loadNow > cpus ? ` (above the ${cpus} CPUs: other processes competed for them, so the timings are noisy)` : ""),
  );
}

runBenchmark("bench:versions", main, { timeoutMs: 12 * 60_000 });
