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
 *      Baseline: a fresh Node process running sharp with the very options the service uses
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
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import type { Config } from "../src/config.js";
import type { VideoRecipe } from "../src/transcode/presets.js";
import { cleanupSync, positiveInt, readCpuMs, readMem, readThreadCpuMs, startChild, stopChild, tempDirs, watchMemory, type Child, type MemWindow } from "./children.js";

const MiB = 1024 * 1024;
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);

const IMAGES = positiveInt(process.env.BENCH_IMAGES, 40);
const IMAGE_ROUNDS = positiveInt(process.env.BENCH_IMAGE_ROUNDS, 3);
const VIDEO_SECONDS = positiveInt(process.env.BENCH_VIDEO_SECONDS, 30);
const VIDEO_RUNS = positiveInt(process.env.BENCH_VIDEO_RUNS, 2);
const CONCURRENT_ASKS = positiveInt(process.env.BENCH_CONCURRENT_REQUESTS, 50);
const WITH_POSTGRES = process.env.BENCH_POSTGRES !== "0";
/** The size of (a)'s JPEGs, WIDTHxHEIGHT. */
const IMAGE_SIZE = (() => {
  const match = /^(\d+)x(\d+)$/.exec(process.env.BENCH_IMAGE_SIZE ?? "1600x1200");
  if (!match) throw new Error(`BENCH_IMAGE_SIZE: expected WIDTHxHEIGHT, got ${JSON.stringify(process.env.BENCH_IMAGE_SIZE)}`);
  return { width: Number(match[1]), height: Number(match[2]), label: match[0] };
})();
/** Which figures to measure: BENCH_PARTS=a,c runs (a) and (c) only. */
const PARTS = new Set((process.env.BENCH_PARTS ?? "a,b,c,d").split(",").map((p) => p.trim().toLowerCase()).filter(Boolean));
for (const part of PARTS) if (!["a", "b", "c", "d"].includes(part)) throw new Error(`BENCH_PARTS: unknown part ${JSON.stringify(part)} (a, b, c, d)`);
/** Extra node flags for the service, e.g. BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
const SERVICE_NODE_ARGS = (process.env.BENCH_SERVICE_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

const THUMB_TARGET = 0.85; // service / raw sharp images per second, at least
const VIDEO_TARGET = 1.05; // service / bare ffmpeg wall time, at most
const GENERATIONS_TARGET = 1; // exactly
const RSS_TARGET = 1.3; // service / bare sharp peak RSS, at most

/** Images each side makes before it is timed: the service's code is compiled as it warms up. */
const WARMUP_IMAGES = positiveInt(process.env.BENCH_WARMUP_IMAGES, 20);
const TRANSFORM_WIDTHS = [640, 960, 1280, 1600, 1920, 2560, 3200, 3840];
/** No eager versions and no poster frames: only what the bench asks for is made. */
const LAZY_PRESETS = JSON.stringify({ IMAGE: { thumb: { eager: false } }, VIDEO: { "mp4-720p": { eager: false } } });

const READY_TIMEOUT_MS = 90_000;
const REQUEST_TIMEOUT_MS = 120_000;
const OVERALL_TIMEOUT_MS = 12 * 60_000;
const RSS_POLL_MS = 50;
const STATUS_POLL_MS = 250;
const SETTLE_MS = 1000;

const UPLOAD_SHELVES = "mutation BenchUpload($input: UploadShelvesInput!) { uploadShelves(input: $input) { id original { mimeType } } }";
const VERSION_QUERY =
  "query BenchVersion($id: ID!, $preset: String!) { shelf(id: $id) { version(preset: $preset) { id url status size width height durationMs error } } }";
const TRANSFORM_QUERY =
  "query BenchTransform($id: ID!, $input: ImageTransformInput!) { shelf(id: $id) { ... on ImageShelf { transform(input: $input) { id url status } } } }";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
const seconds = (since: number) => (performance.now() - since) / 1000;

// ---------------------------------------------------------------------------------------------
// The bare sharp process (this same file, run as a child with BENCH_ROLE=sharp)
// ---------------------------------------------------------------------------------------------

interface SharpRecipe {
  width?: number;
  height?: number;
  fit: "cover" | "inside";
  quality: number;
}

interface SharpSpec {
  /** Run before anything is timed: a transform when `output` is given, else a metadata read. */
  warmup: Array<{ input: string; output?: string; recipe?: SharpRecipe }>;
  jobs: Array<{ input: string; output: string; recipe: SharpRecipe }>;
  concurrency: number;
  maxPixels: number;
  timeoutSeconds: number;
  /** Print READY and wait for SIGUSR2 before the jobs, then stay until SIGTERM (memory is sampled). */
  waitForSignal: boolean;
}

/** The sharp pipeline of src/transcode/image.ts for a webp recipe, written out bare. */
function sharpWebp(spec: SharpSpec, input: string, output: string, recipe: SharpRecipe) {
  return sharp(input, { failOn: "warning", limitInputPixels: spec.maxPixels, animated: false })
    .autoOrient()
    .resize({ width: recipe.width, height: recipe.height, fit: recipe.fit, withoutEnlargement: true })
    .timeout({ seconds: spec.timeoutSeconds })
    .webp({ quality: recipe.quality })
    .toFile(output);
}

async function runSharpRole(): Promise<void> {
  const spec = JSON.parse(await fsp.readFile(process.env.BENCH_SPEC!, "utf8")) as SharpSpec;
  // A signal listener does not keep Node alive; this does, while the process waits for one.
  const keepAlive = setInterval(() => {}, 60_000);
  for (const w of spec.warmup) {
    if (w.output && w.recipe) await sharpWebp(spec, w.input, w.output, w.recipe);
    else await sharp(w.input, { failOn: "warning", limitInputPixels: spec.maxPixels }).metadata();
  }
  if (spec.waitForSignal) {
    const go = new Promise((resolve) => process.once("SIGUSR2", resolve));
    process.stdout.write("READY\n");
    await go;
  }
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const threadsBefore = readThreadCpuMs(process.pid);
  let next = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      for (let i = next++; i < spec.jobs.length; i = next++) {
        const job = spec.jobs[i]!;
        await sharpWebp(spec, job.input, job.output, job.recipe);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const threads = Object.fromEntries(threadCpuSince(threadsBefore, readThreadCpuMs(process.pid), cpuMs, 1));
  process.stdout.write(`RESULT ${JSON.stringify({ seconds: seconds(started), cpuMs, threads })}\n`);
  if (spec.waitForSignal) await new Promise((resolve) => process.once("SIGTERM", resolve));
  clearInterval(keepAlive);
}

// ---------------------------------------------------------------------------------------------
// Children: line taps, the service, the bare sharp process
// ---------------------------------------------------------------------------------------------

type LineListener = (line: string) => void;

/** Calls listeners with every whole line the child writes (stdout and stderr). */
function tapLines(child: Child): (listener: LineListener) => () => void {
  const listeners = new Set<LineListener>();
  for (const stream of [child.proc.stdout, child.proc.stderr]) {
    let pending = "";
    stream?.on("data", (chunk: Buffer) => {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) for (const listener of listeners) listener(line);
    });
  }
  return (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
}

function failureReport(child: Child): string {
  return `--- last output of ${child.name} (pid ${child.pid}) ---\n${child.output.join("\n") || "(none)"}`;
}

/** Waits for a line matching `pattern` (or the child's exit, or the deadline). */
function waitForLine(child: Child, onLine: (l: LineListener) => () => void, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const found = child.output.map((line) => pattern.exec(line)).find(Boolean);
    if (found) return resolve(found);
    const timer = setTimeout(() => finish(new Error(`${child.name} printed no ${pattern} within ${timeoutMs / 1000} s\n${failureReport(child)}`)), timeoutMs);
    const off = onLine((line) => {
      const match = pattern.exec(line);
      if (match) finish(undefined, match);
    });
    // "exit" can come before the last output: give the pipes a moment to drain first.
    void child.exited
      .then(() => sleep(300))
      .then(() => finish(new Error(`${child.name} exited before printing ${pattern}\n${failureReport(child)}`)));
    let done = false;
    function finish(err?: Error, match?: RegExpExecArray) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      if (err) reject(err);
      else resolve(match!);
    }
  });
}

interface Service {
  label: string;
  child: Child;
  dataDir: string;
  url: string;
  onLine: (listener: LineListener) => () => void;
  startupSeconds: number;
}

/** The service's environment: defaults, lazy presets, the bench's own data dir and database. */
function serviceEnv(dataDir: string, databaseUrl?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(DATABASE_URL|AUTH_.*|MEDIA_.*|STORAGE.*|S3_.*|BENCH_.*|VIDEO_POSTER_POSITIONS|VERSION_WAIT_MS|TRANSFORM_MAX_SIZE|IMAGE_.*|HOST|PORT|DATA_DIR|NODE_ENV)$/.test(key)) {
      delete env[key];
    }
  }
  return {
    ...env,
    NODE_ENV: "production",
    // As `npm start` runs it: glibc's allocator kept to two arenas (sharp's advice for its threads).
    MALLOC_ARENA_MAX: "2",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: dataDir,
    MEDIA_PRESETS: LAZY_PRESETS,
    VIDEO_POSTER_POSITIONS: "",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
}

async function startService(label: string, root: string, databaseUrl?: string, reuseDataDir?: string): Promise<Service> {
  const dataDir = reuseDataDir ?? (await fsp.mkdtemp(path.join(root, `${label.replace(/\W+/g, "-")}-`)));
  const started = performance.now();
  const child = startChild(`service (${label})`, [...SERVICE_NODE_ARGS, "lib/main.js"], serviceEnv(dataDir, databaseUrl), REPO_ROOT);
  const onLine = tapLines(child);
  const match = await waitForLine(child, onLine, /listening on (http:\/\/\S+)\/graphql/, READY_TIMEOUT_MS);
  return { label, child, dataDir, url: match[1]!, onLine, startupSeconds: seconds(started) };
}

/** Starts the bare sharp process on `spec`; resolves when it has printed READY (if it waits) or started. */
async function startSharp(name: string, root: string, spec: SharpSpec): Promise<{ child: Child; onLine: (l: LineListener) => () => void }> {
  const specFile = path.join(await fsp.mkdtemp(path.join(root, "spec-")), "spec.json");
  await fsp.writeFile(specFile, JSON.stringify(spec));
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_ROLE: "sharp", BENCH_SPEC: specFile };
  const child = startChild(name, ["--import", "tsx", SELF], env, REPO_ROOT);
  const onLine = tapLines(child);
  if (spec.waitForSignal) await waitForLine(child, onLine, /^READY$/, READY_TIMEOUT_MS);
  return { child, onLine };
}

// ---------------------------------------------------------------------------------------------
// HTTP: GraphQL, uploads, media
// ---------------------------------------------------------------------------------------------

async function gql<T>(base: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let parsed: { data?: T; errors?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`GraphQL answered ${res.status} with non-JSON: ${text.slice(0, 300)}`);
  }
  if (res.status !== 200 || parsed.errors || !parsed.data) throw new Error(`GraphQL answered ${res.status}: ${text.slice(0, 500)}`);
  return parsed.data;
}

interface Uploaded {
  id: string;
  mimeType: string;
}

/** One shelf per file, up to 20 files a request (uploadShelves, the multipart request spec). */
async function uploadFiles(base: string, files: string[]): Promise<Uploaded[]> {
  const shelves: Uploaded[] = [];
  for (let i = 0; i < files.length; i += 20) {
    const batch = files.slice(i, i + 20);
    const form = new FormData();
    form.append("operations", JSON.stringify({ query: UPLOAD_SHELVES, variables: { input: { files: batch.map(() => null) } } }));
    form.append("map", JSON.stringify(Object.fromEntries(batch.map((_, j) => [String(j), [`variables.input.files.${j}`]]))));
    for (const [j, file] of batch.entries()) form.append(String(j), await fs.openAsBlob(file), path.basename(file));
    const res = await fetch(`${base}/graphql`, { method: "POST", headers: { "apollo-require-preflight": "true" }, body: form });
    const text = await res.text();
    const parsed = JSON.parse(text) as { data?: { uploadShelves: Array<{ id: string; original: { mimeType: string } }> }; errors?: unknown };
    if (res.status !== 200 || parsed.errors || !parsed.data) throw new Error(`upload refused (HTTP ${res.status}): ${text.slice(0, 500)}`);
    shelves.push(...parsed.data.uploadShelves.map((s) => ({ id: s.id, mimeType: s.original.mimeType })));
  }
  return shelves;
}

interface VersionRow {
  id: string;
  url: string;
  status: string;
  size: number | null;
  width: number | null;
  height: number | null;
  durationMs: number | null;
  error: string | null;
}

async function askVersion(base: string, id: string, preset: string): Promise<VersionRow> {
  const data = await gql<{ shelf: { version: VersionRow } | null }>(base, VERSION_QUERY, { id, preset });
  if (!data.shelf) throw new Error(`shelf ${id} not found`);
  return data.shelf.version;
}

interface Fetched {
  status: number;
  body: Buffer;
  /** 202 answers (the version was not ready within the route's wait) before the final one. */
  waits: number;
}

/** GETs a media url; a 202 (still being made) is asked again after its Retry-After. */
async function fetchMedia(base: string, url: string): Promise<Fetched> {
  const deadline = Date.now() + REQUEST_TIMEOUT_MS;
  for (let waits = 0; ; waits++) {
    const res = await fetch(new URL(url, base), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 202) return { status: res.status, body, waits };
    if (Date.now() > deadline) throw new Error(`${url} still answered 202 after ${REQUEST_TIMEOUT_MS / 1000} s`);
    await sleep(Number(res.headers.get("retry-after") ?? "1") * 1000);
  }
}

// ---------------------------------------------------------------------------------------------
// Memory of a child process
// ---------------------------------------------------------------------------------------------

/** Waits (at most `maxMs`) until five samples 250 ms apart lie within 4 MiB; returns the last. */
async function settledRss(pid: number, maxMs = 10_000): Promise<number> {
  const samples: number[] = [];
  const deadline = Date.now() + maxMs;
  for (;;) {
    samples.push(readMem(pid).rssKiB);
    const recent = samples.slice(-5);
    if (recent.length === 5 && Math.max(...recent) - Math.min(...recent) < 4096) break;
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  return samples.at(-1)!;
}

// ---------------------------------------------------------------------------------------------
// Media
// ---------------------------------------------------------------------------------------------

/** A distinct, photo-sized JPEG: mild noise overlaid with a random gradient and circles. */
async function makeJpeg(file: string, width: number, height: number, seed: number): Promise<void> {
  let s = (Math.imul(seed + 1, 2654435761) >>> 0) || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const colour = () => `#${[next(), next(), next()].map((v) => Math.floor(v * 256).toString(16).padStart(2, "0")).join("")}`;
  let shapes = "";
  for (let i = 0; i < 12; i++) {
    shapes += `<circle cx="${Math.floor(next() * width)}" cy="${Math.floor(next() * height)}" r="${Math.floor(next() * (height / 3) + height / 20)}" fill="${colour()}" fill-opacity="0.7"/>`;
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs>` +
    `<rect width="${width}" height="${height}" fill="url(#g)"/>${shapes}</svg>`;
  const noise = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = 104 + Math.floor(next() * 48);
  await sharp(noise, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), blend: "overlay" }])
    .jpeg({ quality: 88 })
    .toFile(file);
}

async function makeVideo(ffmpegPath: string, file: string, durationSeconds: number): Promise<void> {
  const args = [
    "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", `testsrc2=duration=${durationSeconds}:size=1920x1080:rate=30`,
    "-f", "lavfi", "-i", `sine=frequency=440:duration=${durationSeconds}`,
    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
    file,
  ];
  const { code, stderr } = await runCommand(ffmpegPath, args);
  if (code !== 0) throw new Error(`ffmpeg could not make the test video: ${stderr.trim().split("\n").pop()}`);
}

/** Runs a program with stdout drained (ffmpeg's -progress goes there) and the stderr tail kept. */
function runCommand(command: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    proc.stdout.resume();
    proc.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-8192);
    });
    proc.once("error", reject);
    proc.once("close", (code) => resolve({ code, stderr }));
  });
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

// ---------------------------------------------------------------------------------------------
// (a) thumbnails on demand
// ---------------------------------------------------------------------------------------------

interface ThumbRun {
  seconds: number;
  perSecond: number;
  /** CPU time of the whole process (every thread) per image, ms. */
  cpuPerImage: number;
  /** The service's: of it, its JavaScript thread's. */
  mainPerImage?: number;
  /** The service's, per image and thread name ("exited" for threads gone by the end). */
  threadsPerImage?: Map<string, number>;
}

/**
 * CPU per item between two readings, summed by thread name; what the process spent beyond the
 * threads still there at the end (`totalMs`) is put under "exited".
 */
function threadCpuSince(
  before: Map<number, { name: string; ms: number }>,
  after: Map<number, { name: string; ms: number }>,
  totalMs: number,
  items: number,
): Map<string, number> {
  const byName = new Map<string, number>();
  let counted = 0;
  for (const [tid, { name, ms }] of after) {
    // A thread id the first reading did not see is a thread started since.
    const spent = ms - (before.get(tid)?.ms ?? 0);
    counted += spent;
    const label = name === "main" ? "JavaScript" : name;
    byName.set(label, (byName.get(label) ?? 0) + spent);
  }
  byName.set("exited", totalMs - counted);
  const perItem = new Map<string, number>();
  for (const [name, ms] of byName) if (ms / items >= 0.05) perItem.set(name, ms / items);
  return perItem;
}

const byThread = (threads: Map<string, number>) =>
  [...threads].sort((x, y) => y[1] - x[1]).map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(", ");

/** C clients: version(preset: "thumb") then GET, image after image, until every byte is in. */
async function serviceThumbs(service: Service, ids: string[], concurrency: number): Promise<ThumbRun & { bodies: Buffer[]; waits: number }> {
  const bodies: Buffer[] = new Array(ids.length);
  let waits = 0;
  let next = 0;
  const pid = service.child.pid;
  const cpuBefore = readCpuMs(pid);
  const mainBefore = readCpuMs(pid, pid);
  const threadsBefore = readThreadCpuMs(pid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < ids.length; i = next++) {
        const version = await askVersion(service.url, ids[i]!, "thumb");
        const got = await fetchMedia(service.url, version.url);
        if (got.status !== 200) throw new Error(`thumb of ${ids[i]}: GET answered ${got.status}: ${got.body.toString().slice(0, 200)}`);
        bodies[i] = got.body;
        waits += got.waits;
      }
    }),
  );
  const secs = seconds(started);
  const cpuPerImage = (readCpuMs(pid) - cpuBefore) / ids.length;
  const mainPerImage = (readCpuMs(pid, pid) - mainBefore) / ids.length;
  const threadsPerImage = threadCpuSince(threadsBefore, readThreadCpuMs(pid), cpuPerImage * ids.length, ids.length);
  return { seconds: secs, perSecond: ids.length / secs, cpuPerImage, mainPerImage, threadsPerImage, bodies, waits };
}

/** The service's `thumb` recipe, for raw sharp. */
function thumbRecipe(config: Config): SharpRecipe {
  const recipe = config.versions.presets.get("IMAGE", "thumb")?.recipe;
  if (recipe?.type !== "image" || recipe.format !== "webp" || (recipe.fit !== "cover" && recipe.fit !== "inside")) {
    throw new Error(`the thumb preset is not a cover or inside webp recipe: ${JSON.stringify(recipe)}`);
  }
  return { width: recipe.width, height: recipe.height, fit: recipe.fit, quality: recipe.quality };
}

async function rawThumbs(root: string, files: string[], warmups: string[], config: Config, concurrency: number, round: number): Promise<ThumbRun & { outputs: string[] }> {
  const outDir = await fsp.mkdtemp(path.join(root, `raw-thumbs-${round}-`));
  const recipe = thumbRecipe(config);
  const outputs = files.map((_, i) => path.join(outDir, `${i}.webp`));
  const spec: SharpSpec = {
    warmup: warmups.map((input, i) => ({ input, output: path.join(outDir, `warm-${i}.webp`), recipe })),
    jobs: files.map((input, i) => ({ input, output: outputs[i]!, recipe })),
    concurrency,
    maxPixels: config.image.maxPixels,
    timeoutSeconds: config.versions.imageTimeoutSeconds,
    waitForSignal: false,
  };
  const { child, onLine } = await startSharp(`raw sharp thumbs #${round}`, root, spec);
  const match = await waitForLine(child, onLine, /^RESULT (.*)$/, READY_TIMEOUT_MS);
  const code = await child.exited;
  if (code !== 0) throw new Error(`raw sharp exited with ${code}\n${failureReport(child)}`);
  const result = JSON.parse(match[1]!) as { seconds: number; cpuMs: number; threads: Record<string, number> };
  const threadsPerImage = new Map(Object.entries(result.threads).map(([name, ms]) => [name, ms / files.length]));
  return { seconds: result.seconds, perSecond: files.length / result.seconds, cpuPerImage: result.cpuMs / files.length, threadsPerImage, outputs };
}

// ---------------------------------------------------------------------------------------------
// (b) video transcode
// ---------------------------------------------------------------------------------------------

interface VideoRun {
  seconds: number;
  size: number;
  note: string;
}

async function bareTranscode(config: Config, source: string, demuxer: string, recipe: VideoRecipe, root: string): Promise<VideoRun> {
  const { videoArgs } = await import("../src/transcode/av.js");
  const outDir = await fsp.mkdtemp(path.join(root, "bare-video-"));
  const output = path.join(outDir, "out.mp4");
  const args = videoArgs(source, demuxer, output, recipe);
  const started = performance.now();
  const { code, stderr } = await runCommand(config.ffmpeg.ffmpegPath, args);
  const secs = seconds(started);
  if (code !== 0) throw new Error(`bare ffmpeg failed: ${stderr.trim().split("\n").pop()}`);
  const size = (await fsp.stat(output)).size;
  await fsp.rm(outDir, { recursive: true, force: true });
  return { seconds: secs, size, note: "" };
}

/** From the request that enqueues mp4-720p to READY: the "made version" line or a status poll. */
async function serviceTranscode(service: Service, shelfId: string): Promise<VideoRun> {
  let loggedAt: number | undefined;
  let logged!: () => void;
  const loggedLine = new Promise<void>((resolve) => (logged = resolve));
  const off = service.onLine((line) => {
    if (loggedAt === undefined && line.startsWith(`made version mp4-720p of shelf ${shelfId}`)) {
      loggedAt = performance.now();
      logged();
    }
  });
  try {
    const started = performance.now();
    let version = await askVersion(service.url, shelfId, "mp4-720p");
    let polledAt: number | undefined;
    const deadline = Date.now() + 15 * 60_000;
    while (loggedAt === undefined && polledAt === undefined) {
      if (version.status === "READY") polledAt = performance.now();
      else if (version.status === "FAILED") throw new Error(`mp4-720p failed: ${version.error}`);
      else if (Date.now() > deadline) throw new Error("mp4-720p was not made within 15 minutes");
      else {
        await Promise.race([sleep(STATUS_POLL_MS), loggedLine]);
        if (loggedAt === undefined) version = await askVersion(service.url, shelfId, "mp4-720p");
      }
    }
    const readyAt = Math.min(loggedAt ?? Infinity, polledAt ?? Infinity);
    version = await askVersion(service.url, shelfId, "mp4-720p");
    if (version.status !== "READY") throw new Error(`mp4-720p is ${version.status} after its "made" line`);
    return {
      seconds: (readyAt - started) / 1000,
      size: version.size ?? 0,
      note: `${version.width}x${version.height}, ${((version.durationMs ?? 0) / 1000).toFixed(1)} s; READY seen by ${loggedAt !== undefined && loggedAt <= (polledAt ?? Infinity) ? "log line" : "status poll"}`,
    };
  } finally {
    off();
  }
}

// ---------------------------------------------------------------------------------------------
// (c) single flight
// ---------------------------------------------------------------------------------------------

interface FlightResult {
  requests: number;
  generations: number;
  versionIds: number;
  statuses: string;
  distinctBodies: number;
  /** The distinct answers other than 200, with the start of their bodies. */
  failures: string[];
  seconds: number;
}

/** `requests` concurrent version(preset: "medium") + GET; generations counted from the log. */
async function singleFlight(service: Service, shelfId: string, requests: number): Promise<FlightResult> {
  let generations = 0;
  const off = service.onLine((line) => {
    if (line.startsWith(`made version medium of shelf ${shelfId} `)) generations++;
  });
  try {
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: requests }, async () => {
        const version = await askVersion(service.url, shelfId, "medium");
        return { id: version.id, ...(await fetchMedia(service.url, version.url)) };
      }),
    );
    const secs = seconds(started);
    await sleep(SETTLE_MS); // a second generation would show up by now
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    return {
      requests,
      generations,
      versionIds: new Set(results.map((r) => r.id)).size,
      statuses: [...statuses].map(([status, n]) => `${n}x ${status}`).join(", "),
      distinctBodies: new Set(results.map((r) => sha256(r.body))).size,
      failures: [...new Set(results.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.body.toString("utf8").slice(0, 120))}`))],
      seconds: secs,
    };
  } finally {
    off();
  }
}

// ---------------------------------------------------------------------------------------------
// (d) memory during concurrent transforms
// ---------------------------------------------------------------------------------------------

interface MemRun {
  label: string;
  mem: MemWindow;
  seconds: number;
  note: string;
  /** sha256 of each output, in TRANSFORM_WIDTHS order. */
  hashes: string[];
  /** The service's settled RSS after its first start on a fresh database (migrations applied). */
  firstIdleKiB?: number;
}

/**
 * A service as deployed runs on a database its earlier starts migrated: a first start applies
 * every migration, which on PGlite leaves its WebAssembly heap (which never shrinks) far larger.
 * So the service is started once, stopped, and measured after a second start on the same data.
 */
async function serviceTransformsMemory(label: string, root: string, bigImage: string, databaseUrl?: string): Promise<MemRun> {
  const first = await startService(label, root, databaseUrl);
  let firstIdle: number;
  try {
    firstIdle = await settledRss(first.child.pid, 5000);
  } finally {
    await stopChild(first.child, 5000);
  }
  const service = await startService(label, root, databaseUrl, first.dataDir);
  try {
    const [shelf] = await uploadFiles(service.url, [bigImage]);
    const settled = await settledRss(service.child.pid);
    const watch = watchMemory(service.child.pid, RSS_POLL_MS);
    const started = performance.now();
    let mem: MemWindow | undefined;
    let results: Array<{ id: string; status: number; body: Buffer; waits: number }>;
    try {
      results = await Promise.all(
        TRANSFORM_WIDTHS.map(async (width) => {
          const data = await gql<{ shelf: { transform: { id: string; url: string } } | null }>(service.url, TRANSFORM_QUERY, {
            id: shelf!.id,
            input: { width, format: "WEBP" },
          });
          const version = data.shelf!.transform;
          return { id: version.id, ...(await fetchMedia(service.url, version.url)) };
        }),
      );
    } finally {
      mem = watch.finish();
    }
    const secs = seconds(started);
    const widths = await Promise.all(results.map(async (r) => (r.status === 200 ? (await sharp(r.body).metadata()).width : r.status)));
    const bad = widths.filter((w, i) => w !== TRANSFORM_WIDTHS[i]);
    if (bad.length > 0 || new Set(results.map((r) => r.id)).size !== TRANSFORM_WIDTHS.length) {
      throw new Error(`transforms came back wrong: widths ${widths.join(", ")}`);
    }
    const waits = results.reduce((n, r) => n + r.waits, 0);
    return {
      label,
      mem: mem!,
      seconds: secs,
      hashes: results.map((r) => sha256(r.body)),
      note:
        `RSS after the restart and the upload settled at ${mib(settled)} (after the first start, which applied the migrations: ${mib(firstIdle)}); ` +
        `${waits} answers of 202; restarted in ${service.startupSeconds.toFixed(1)} s`,
      firstIdleKiB: firstIdle,
    };
  } finally {
    await stopChild(service.child, 5000);
  }
}

async function bareTransformsMemory(root: string, bigImage: string, config: Config): Promise<MemRun> {
  const outDir = await fsp.mkdtemp(path.join(root, "bare-transforms-"));
  const spec: SharpSpec = {
    warmup: [{ input: bigImage }], // the header read the service's upload makes
    jobs: TRANSFORM_WIDTHS.map((width) => ({ input: bigImage, output: path.join(outDir, `${width}.webp`), recipe: { width, fit: "inside", quality: 80 } })),
    concurrency: TRANSFORM_WIDTHS.length,
    maxPixels: config.image.maxPixels,
    timeoutSeconds: config.versions.imageTimeoutSeconds,
    waitForSignal: true,
  };
  const { child, onLine } = await startSharp("bare sharp transforms", root, spec);
  try {
    const settled = await settledRss(child.pid);
    const result = waitForLine(child, onLine, /^RESULT (.*)$/, REQUEST_TIMEOUT_MS);
    const watch = watchMemory(child.pid, RSS_POLL_MS);
    child.proc.kill("SIGUSR2");
    let mem: MemWindow | undefined;
    let match: RegExpExecArray;
    try {
      match = await result;
    } finally {
      mem = watch.finish();
    }
    const secs = (JSON.parse(match[1]!) as { seconds: number }).seconds;
    const hashes: string[] = [];
    for (const width of TRANSFORM_WIDTHS) {
      const bytes = await fsp.readFile(path.join(outDir, `${width}.webp`));
      const meta = await sharp(bytes).metadata();
      if (meta.width !== width) throw new Error(`bare transform ${width} came out ${meta.width} wide`);
      hashes.push(sha256(bytes));
    }
    return { label: "bare sharp", mem: mem!, seconds: secs, hashes, note: `RSS settled at ${mib(settled)} after loading sharp and reading the header` };
  } finally {
    await stopChild(child, 2000);
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL for (d)
// ---------------------------------------------------------------------------------------------

async function adminQuery(sql: string): Promise<string | undefined> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, unknown>>(sql);
    const first = rows[0];
    return first ? String(Object.values(first)[0]) : undefined;
  } finally {
    await client.end();
  }
}

const asyncCleanups: Array<() => Promise<void>> = [];

async function runAsyncCleanups(): Promise<void> {
  for (const run of asyncCleanups.splice(0).reverse()) {
    try {
      await run();
    } catch (err) {
      console.error(`cleanup failed: ${(err as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

type Row = [metric: string, service: string, baseline: string, ratio: string, target: string, met: string];

interface Report {
  rows: Row[];
  notes: string[];
}

const verdict = (ok: boolean) => (ok ? "yes" : "NO");

interface Setup {
  root: string;
  config: Config;
  /** The service's image job concurrency, and the clients' and raw sharp's. */
  concurrency: number;
}

async function partThumbs(setup: Setup, service: Service, database: string, files: { thumbs: string[]; warm: string[] }, report: Report): Promise<void> {
  const { root, config, concurrency } = setup;
  const t = performance.now();
  const warmShelves = await uploadFiles(service.url, files.warm);
  const roundShelves: string[][] = [];
  for (let r = 0; r < IMAGE_ROUNDS; r++) roundShelves.push((await uploadFiles(service.url, files.thumbs)).map((s) => s.id));
  const recipe = thumbRecipe(config);
  console.log(`\n(a) thumb (${recipe.width}x${recipe.height} ${recipe.fit}, webp q${recipe.quality}) of ${IMAGES} JPEGs ${IMAGE_SIZE.label}, ${concurrency} at a time, service on ${database} (${IMAGES * IMAGE_ROUNDS + WARMUP_IMAGES} uploaded in ${seconds(t).toFixed(1)} s)`);
  await serviceThumbs(service, warmShelves.map((s) => s.id), concurrency);
  const serviceRuns: ThumbRun[] = [];
  const rawRuns: ThumbRun[] = [];
  let identical = 0;
  let compared = 0;
  let waits = 0;
  for (let r = 0; r < IMAGE_ROUNDS; r++) {
    let served: Awaited<ReturnType<typeof serviceThumbs>> | undefined;
    let raw: Awaited<ReturnType<typeof rawThumbs>> | undefined;
    const runService = async () => {
      served = await serviceThumbs(service, roundShelves[r]!, concurrency);
      serviceRuns.push(served);
      waits += served.waits;
      console.log(
        `  service   #${r + 1}: ${served.seconds.toFixed(3)} s  ${served.perSecond.toFixed(1).padStart(5)} images/s  ` +
          `CPU ${served.cpuPerImage.toFixed(1)} ms/image (by thread: ${byThread(served.threadsPerImage!)})`,
      );
    };
    const runRaw = async () => {
      raw = await rawThumbs(root, files.thumbs, files.warm, config, concurrency, r + 1);
      rawRuns.push(raw);
      console.log(`  raw sharp #${r + 1}: ${raw.seconds.toFixed(3)} s  ${raw.perSecond.toFixed(1).padStart(5)} images/s  CPU ${raw.cpuPerImage.toFixed(1)} ms/image (by thread: ${byThread(raw.threadsPerImage!)})`);
    };
    for (const step of r % 2 === 0 ? [runRaw, runService] : [runService, runRaw]) {
      await step();
      await sleep(SETTLE_MS / 2);
    }
    for (let i = 0; i < IMAGES; i++) {
      compared++;
      if (sha256(served!.bodies[i]!) === sha256(await fsp.readFile(raw!.outputs[i]!))) identical++;
    }
  }
  const bestService = Math.max(...serviceRuns.map((r) => r.perSecond));
  const bestRaw = Math.max(...rawRuns.map((r) => r.perSecond));
  const ratio = bestService / bestRaw;
  console.log(`  service thumbnails byte-identical to raw sharp's: ${identical} of ${compared}; 202 answers: ${waits}`);
  if (identical !== compared) report.notes.push(`(a) only ${identical} of ${compared} service thumbnails are byte-identical to raw sharp's`);
  report.rows.push([
    `(a) thumb images/s, on demand, C=${concurrency} (best of ${IMAGE_ROUNDS}; ${database})`,
    `${bestService.toFixed(1)}/s`,
    `${bestRaw.toFixed(1)}/s`,
    ratio.toFixed(2),
    `>= ${THUMB_TARGET}`,
    verdict(ratio >= THUMB_TARGET),
  ]);
  const leastCpu = (runs: ThumbRun[]) => Math.min(...runs.map((r) => r.cpuPerImage));
  const leastMain = Math.min(...serviceRuns.map((r) => r.mainPerImage!));
  report.notes.push(
    `(a) ${database}: CPU per image (least of the rounds; unlike wall time, not raised by other processes): service ${leastCpu(serviceRuns).toFixed(1)} ms ` +
      `(its JavaScript thread ${leastMain.toFixed(1)} ms), raw sharp ${leastCpu(rawRuns).toFixed(1)} ms; raw / service ${(leastCpu(rawRuns) / leastCpu(serviceRuns)).toFixed(2)}`,
  );
  const perImage = (perSecond: number) => (concurrency * 1000) / perSecond;
  report.notes.push(
    `(a) ${database}: wall time per image and client: service ${perImage(bestService).toFixed(1)} ms, raw sharp ${perImage(bestRaw).toFixed(1)} ms ` +
      `(+${(perImage(bestService) - perImage(bestRaw)).toFixed(1)} ms for the request, the job and the GET)`,
  );
}

async function partSingleFlight(service: Service, flightFiles: string[], report: Report): Promise<void> {
  const [busy, quiet] = await uploadFiles(service.url, flightFiles);
  console.log(`\n(c) ${CONCURRENT_ASKS} concurrent version(preset: "medium") + GET of one 2000x1500 image`);
  const single = await singleFlight(service, quiet!.id, 1);
  console.log(`  1 request:   ${single.generations} generation(s), ${single.statuses}, ${single.seconds.toFixed(2)} s`);
  const flight = await singleFlight(service, busy!.id, CONCURRENT_ASKS);
  console.log(
    `  ${CONCURRENT_ASKS} requests: ${flight.generations} generation(s), ${flight.versionIds} version id(s), ${flight.statuses}, ` +
      `${flight.distinctBodies} distinct bod${flight.distinctBodies === 1 ? "y" : "ies"}, ${flight.seconds.toFixed(2)} s`,
  );
  for (const failure of [...single.failures, ...flight.failures]) console.log(`  answered: ${failure}`);
  if (flight.failures.length > 0) report.notes.push(`(c) not every GET answered 200: ${flight.failures.join("; ")}`);
  const ok =
    flight.generations === GENERATIONS_TARGET && flight.versionIds === 1 && flight.distinctBodies === 1 && flight.statuses === `${CONCURRENT_ASKS}x 200`;
  report.rows.push([
    `(c) generations, ${CONCURRENT_ASKS} concurrent asks of one version`,
    String(flight.generations),
    `${single.generations} (1 ask)`,
    single.generations > 0 ? (flight.generations / single.generations).toFixed(2) : "-",
    `= ${GENERATIONS_TARGET}`,
    verdict(ok),
  ]);
}

async function partVideo(setup: Setup, service: Service, video: string, report: Report): Promise<void> {
  const { root, config } = setup;
  const preset = config.versions.presets.get("VIDEO", "mp4-720p");
  if (!preset || preset.recipe.type !== "video") throw new Error("no mp4-720p video preset");
  const recipe = preset.recipe;
  const { KIND_FORMATS } = await import("../src/media/kinds.js");
  const shelves = await uploadFiles(service.url, Array(VIDEO_RUNS).fill(video) as string[]);
  const mimeType = shelves[0]!.mimeType;
  const demuxer = KIND_FORMATS.VIDEO.formats.find((f) => f.mimeType === mimeType)?.demuxer;
  if (!demuxer) throw new Error(`the clip was stored as ${mimeType}, which has no demuxer`);
  console.log(`\n(b) mp4-720p of the ${VIDEO_SECONDS} s 1080p clip (${mimeType}, demuxer ${demuxer}), ${VIDEO_RUNS} run(s) each`);
  const bareRuns: VideoRun[] = [];
  const servedRuns: VideoRun[] = [];
  const bare = async () => {
    const run = await bareTranscode(config, video, demuxer, recipe, root);
    bareRuns.push(run);
    console.log(`  bare ffmpeg #${bareRuns.length}: ${run.seconds.toFixed(2)} s  (${(run.size / MiB).toFixed(2)} MiB)`);
  };
  const served = async () => {
    const run = await serviceTranscode(service, shelves[servedRuns.length]!.id);
    servedRuns.push(run);
    console.log(`  service     #${servedRuns.length}: ${run.seconds.toFixed(2)} s  (${(run.size / MiB).toFixed(2)} MiB, ${run.note})`);
  };
  // bare, service, service, bare, ...: drift over the run hits both sides alike.
  for (const step of Array.from({ length: VIDEO_RUNS }, (_, i) => (i % 2 === 0 ? [bare, served] : [served, bare])).flat()) {
    await step();
    await sleep(SETTLE_MS);
  }
  const bestBare = Math.min(...bareRuns.map((r) => r.seconds));
  const bestServed = Math.min(...servedRuns.map((r) => r.seconds));
  const ratio = bestServed / bestBare;
  report.rows.push([
    `(b) mp4-720p wall time, ${VIDEO_SECONDS} s 1080p (best of ${VIDEO_RUNS})`,
    `${bestServed.toFixed(2)} s`,
    `${bestBare.toFixed(2)} s`,
    ratio.toFixed(3),
    `<= ${VIDEO_TARGET}`,
    verdict(ratio <= VIDEO_TARGET),
  ]);
  const spread = (runs: VideoRun[]) => `${Math.min(...runs.map((r) => r.seconds)).toFixed(1)}-${Math.max(...runs.map((r) => r.seconds)).toFixed(1)} s`;
  report.notes.push(`(b) service minus bare (best runs): ${(bestServed - bestBare).toFixed(2)} s; spread of the runs: bare ${spread(bareRuns)}, service ${spread(servedRuns)}`);
}

/**
 * Runs `fn` with a database created for it on the PostgreSQL server (dropped after), when
 * BENCH_POSTGRES allows and one answers; says so and skips `fn` when none does.
 */
async function withPostgresDatabase(fn: (url: string, version: string) => Promise<void>): Promise<void> {
  if (!WITH_POSTGRES) return;
  let version: string;
  try {
    version = (await adminQuery("SHOW server_version")) ?? "?";
  } catch (err) {
    console.log(`  no PostgreSQL answers at ${ADMIN_URL} (${(err as Error).message}): no PostgreSQL row`);
    return;
  }
  const dbName = `bench_versions_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const drop = () => adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).then(() => {});
  asyncCleanups.push(drop);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  try {
    await fn(url.toString(), version.split(" ")[0]!);
  } finally {
    asyncCleanups.splice(asyncCleanups.indexOf(drop), 1);
    await drop();
  }
}

async function partMemory(setup: Setup, bigImage: string, report: Report): Promise<void> {
  const { root, config, concurrency } = setup;
  console.log(`\n(d) peak RSS during ${TRANSFORM_WIDTHS.length} concurrent transforms (widths ${TRANSFORM_WIDTHS.join(", ")}, webp) of the 6000x4000 JPEG`);
  const memLine = (run: MemRun) =>
    `  ${run.label.padEnd(22)} peak ${mib(run.mem.peakKiB)}, idle ${mib(run.mem.idleKiB)}, +${mib(run.mem.peakKiB - run.mem.idleKiB)} ` +
    `(polled max ${mib(run.mem.polledPeakKiB)}, VmHWM reset ${run.mem.hwmReset ? "ok" : "NOT verified"}), ${run.seconds.toFixed(2)} s; ${run.note}`;
  const runs: MemRun[] = [];
  runs.push(await serviceTransformsMemory("service, PGlite", root, bigImage));
  console.log(memLine(runs.at(-1)!));
  const bare = await bareTransformsMemory(root, bigImage, config);
  console.log(memLine(bare));
  await withPostgresDatabase(async (url, version) => {
    runs.push(await serviceTransformsMemory(`service, PostgreSQL ${version}`, root, bigImage, url));
    console.log(memLine(runs.at(-1)!));
  });
  const bareDelta = bare.mem.peakKiB - bare.mem.idleKiB;
  for (const run of runs) {
    const ratio = run.mem.peakKiB / bare.mem.peakKiB;
    report.rows.push([`(d) peak RSS, 8 transforms (${run.label})`, mib(run.mem.peakKiB), mib(bare.mem.peakKiB), ratio.toFixed(2), `<= ${RSS_TARGET}`, verdict(ratio <= RSS_TARGET)]);
    const delta = run.mem.peakKiB - run.mem.idleKiB;
    const identical = run.hashes.filter((h, i) => h === bare.hashes[i]).length;
    if (identical !== TRANSFORM_WIDTHS.length) report.notes.push(`(d) ${run.label}: only ${identical} of ${TRANSFORM_WIDTHS.length} transforms are byte-identical to bare sharp's`);
    report.notes.push(
      `(d) ${run.label}: idle ${mib(run.mem.idleKiB)} vs bare ${mib(bare.mem.idleKiB)}; peak minus idle +${mib(delta)} vs bare +${mib(bareDelta)} ` +
        `(${(delta / bareDelta).toFixed(2)}x; the service makes ${concurrency} at a time, bare sharp all 8 at once)` +
        (run.firstIdleKiB !== undefined ? `; a first start on a fresh database (every migration applied) idles at ${mib(run.firstIdleKiB)}` : ""),
    );
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const load = () => os.loadavg().map((n) => n.toFixed(1)).join(" ");
  const { loadConfig } = await import("../src/config.js");
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "versions-bench-"));
  tempDirs.push(root);
  // The configuration the services run with (the same environment), for the bare sides' settings.
  const config = loadConfig(serviceEnv(path.join(root, "unused")));
  const concurrency = config.jobs.imageConcurrency;
  if (concurrency < 1) throw new Error("JOBS_IMAGE_CONCURRENCY is 0: the service would make no image versions");
  const setup: Setup = { root, config, concurrency };
  const cpus = os.cpus().length;
  console.log(
    `versions benchmark (${[...PARTS].join(", ")}): Node ${process.version}, ${cpus} CPUs, load average ${load()}, ` +
      `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), image job concurrency ${concurrency}, av ${config.jobs.avConcurrency}; temp dir ${root}`,
  );

  // The service runs as `npm start` runs it: compiled to lib/ first.
  const built = await runCommand("npm", ["run", "--silent", "--prefix", REPO_ROOT, "build"]);
  if (built.code !== 0) throw new Error(`npm run build failed: ${built.stderr.trim()}`);

  // Media first, before any service runs.
  const media = path.join(root, "media");
  await fsp.mkdir(media);
  let t = performance.now();
  const thumbs = Array.from({ length: IMAGES }, (_, i) => path.join(media, `photo-${i}.jpg`));
  const warm = Array.from({ length: WARMUP_IMAGES }, (_, i) => path.join(media, `warm-${i}.jpg`));
  const flightFiles = [path.join(media, "flight-a.jpg"), path.join(media, "flight-b.jpg")];
  const bigImage = path.join(media, "big-6000x4000.jpg");
  const video = path.join(media, `clip-${VIDEO_SECONDS}s-1080p.mp4`);
  if (PARTS.has("a")) {
    await Promise.all([...thumbs, ...warm].map((file, i) => makeJpeg(file, IMAGE_SIZE.width, IMAGE_SIZE.height, i)));
    const average = (await Promise.all(thumbs.map((f) => fsp.stat(f)))).reduce((n, s) => n + s.size, 0) / IMAGES;
    console.log(`made ${IMAGES} + ${WARMUP_IMAGES} distinct JPEGs ${IMAGE_SIZE.label} (${(average / 1024).toFixed(0)} KB on average) in ${seconds(t).toFixed(1)} s`);
  }
  if (PARTS.has("c")) await Promise.all(flightFiles.map((file, i) => makeJpeg(file, 2000, 1500, 2000 + i)));
  if (PARTS.has("d")) {
    t = performance.now();
    await makeJpeg(bigImage, 6000, 4000, 3000);
    console.log(`made the 6000x4000 JPEG (${((await fsp.stat(bigImage)).size / MiB).toFixed(1)} MiB) in ${seconds(t).toFixed(1)} s`);
  }
  if (PARTS.has("b")) {
    t = performance.now();
    await makeVideo(config.ffmpeg.ffmpegPath, video, VIDEO_SECONDS);
    console.log(`made the ${VIDEO_SECONDS} s 1080p30 H.264 + AAC clip (${((await fsp.stat(video)).size / MiB).toFixed(1)} MiB) in ${seconds(t).toFixed(1)} s`);
  }

  const report: Report = { rows: [], notes: [] };
  if (PARTS.has("a") || PARTS.has("b") || PARTS.has("c")) {
    const service = await startService("pglite", root);
    try {
      console.log(`\nservice (embedded PGlite) ready in ${service.startupSeconds.toFixed(1)} s, pid ${service.child.pid}, ${service.url}`);
      if (PARTS.has("a")) await partThumbs(setup, service, "PGlite", { thumbs, warm }, report);
      if (PARTS.has("c")) await partSingleFlight(service, flightFiles, report);
      if (PARTS.has("b")) await partVideo(setup, service, video, report);
    } finally {
      await stopChild(service.child, 5000);
    }
  }
  if (PARTS.has("a")) {
    await withPostgresDatabase(async (url, version) => {
      const service = await startService("postgresql", root, url);
      try {
        console.log(`\nservice (PostgreSQL ${version}) ready in ${service.startupSeconds.toFixed(1)} s, pid ${service.child.pid}, ${service.url}`);
        await partThumbs(setup, service, `PostgreSQL ${version}`, { thumbs, warm }, report);
      } finally {
        await stopChild(service.child, 5000);
      }
    });
  }
  if (PARTS.has("d")) await partMemory(setup, bigImage, report);

  const header: Row = ["metric", "service", "baseline", "ratio", "target", "met"];
  const widths = header.map((_, c) => Math.max(...[header, ...report.rows].map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  console.log(`\n${line(header)}`);
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of report.rows) console.log(line(row));
  console.log("");
  for (const note of report.notes) console.log(note);
  console.log(
    "baselines: (a) raw sharp, same options, in its own Node process, file to file; (b) the same ffmpeg argument list run bare; " +
      "(c) one request; (d) the same 8 sharp transforms at once in a bare Node process",
  );
  const loadNow = os.loadavg()[0]!;
  console.log(
    `\ntotal runtime ${seconds(started).toFixed(0)} s; load average now ${load()}` +
      (loadNow > cpus ? ` (above the ${cpus} CPUs: other processes competed for them, so the timings are noisy)` : ""),
  );
}

if (process.env.BENCH_ROLE === "sharp") {
  runSharpRole().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  const finish = async (code: number) => {
    cleanupSync();
    await runAsyncCleanups();
    process.exit(code);
  };
  const watchdog = setTimeout(() => {
    console.error(`bench: gave up after ${OVERALL_TIMEOUT_MS / 1000} s`);
    void finish(1);
  }, OVERALL_TIMEOUT_MS);
  watchdog.unref();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}, cleaning up`);
      void finish(signal === "SIGINT" ? 130 : 143);
    });
  }
  process.once("exit", cleanupSync);
  main().then(
    () => finish(0),
    (err: unknown) => {
      console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      void finish(1);
    },
  );
}
