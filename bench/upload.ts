/**
 * Upload benchmark: throughput and memory of a large streaming upload through /graphql.
 *
 * In one run it
 *  - generates a 1 GiB and a 100 MiB file (PDF header + pseudo-random filler, fsynced) in a temp dir;
 *  - starts, in child processes, a minimal Node HTTP server that only streams the request body to
 *    a file and fsyncs it (the baseline), and the real service (`node --trace-gc --import tsx
 *    src/main.ts`, each with its own temp DATA_DIR and the embedded database; --trace-gc only logs,
 *    so that full GCs during an upload can be counted);
 *  - warms the service up with one untimed 100 MiB upload, then uploads the same streaming
 *    multipart body (GraphQL multipart request spec: operations, map, file) to each side RUNS
 *    times, alternating which side goes first and deleting what was stored after each upload,
 *    and keeps the best wall time of each side (MiB/s of file bytes, response included);
 *  - measures the service's peak RSS during each upload: VmHWM of the child, reset just before the
 *    upload with `echo 5 > /proc/<pid>/clear_refs` (checked to work; else the max of VmRSS polled
 *    every 50 ms is used). One service process takes both sizes, interleaved (a fresh process's
 *    idle RSS varies by a few hundred MiB from start to start, which would swamp the comparison);
 *  - checks every answer: uploadShelf.original.size and .checksum must match the file.
 *
 * Prints a table and exits 0 whether or not the targets are met; exits 1 when something fails
 * (service did not start, an upload was refused, size or checksum wrong). Child processes and
 * temp dirs are removed on every exit path.
 *
 * Run: npm run bench:upload   (optional env: BENCH_RUNS=2, BENCH_LARGE_MIB=1024, BENCH_SMALL_MIB=100)
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { cleanupSync, mib, positiveInt, readMem, startChild, stopChild, tempDirs, watchMemory, type Child, type MemWindow } from "./children.js";

const MiB = 1024 * 1024;
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);

const RUNS = positiveInt(process.env.BENCH_RUNS, 2);
const LARGE_BYTES = positiveInt(process.env.BENCH_LARGE_MIB, 1024) * MiB;
const SMALL_BYTES = positiveInt(process.env.BENCH_SMALL_MIB, 100) * MiB;

const THROUGHPUT_TARGET = 0.7; // service / baseline, at least
const RSS_RATIO_TARGET = 1.1; // peak RSS 1 GiB / peak RSS 100 MiB, at most

const READY_TIMEOUT_MS = 90_000;
const UPLOAD_TIMEOUT_MS = 120_000;
const OVERALL_TIMEOUT_MS = 8 * 60_000;
const POLL_MS = 50;
/** Pause after each upload (and the removal of what it stored) before the next one starts. */
const SETTLE_MS = 300;

const PDF_HEADER = Buffer.from("%PDF-1.4\n", "latin1");
const UPLOAD_MUTATION =
  "mutation BenchUpload($input: UploadShelfInput!) { uploadShelf(input: $input) { id kind original { size checksum mimeType } } }";

// ---------------------------------------------------------------------------------------------
// Baseline server (this same file, run as a child with BENCH_ROLE=baseline-server)
// ---------------------------------------------------------------------------------------------

function runBaselineServer(): void {
  const dir = process.env.BENCH_DIR;
  if (!dir) throw new Error("BENCH_DIR is not set");
  let count = 0;
  const server = http.createServer((req, res) => {
    const file = path.join(dir, `upload-${count++}.bin`);
    const sink = fs.createWriteStream(file, { flags: "wx" });
    pipeline(req, sink)
      .then(async () => {
        // The service fsyncs what it stores; so does the baseline.
        const handle = await fsp.open(file, "r+");
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        const body = JSON.stringify({ bytes: sink.bytesWritten });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
      })
      .catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(err.message);
      });
  });
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo;
    process.stdout.write(`BASELINE_PORT=${port}\n`);
  });
  process.on("SIGTERM", () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Children and cleanup
// ---------------------------------------------------------------------------------------------

function failureReport(child: Child): string {
  return `--- last output of ${child.name} (pid ${child.pid}) ---\n${child.output.join("\n") || "(none)"}`;
}

// ---------------------------------------------------------------------------------------------
// Networking helpers
// ---------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function httpGetStatus(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.once("end", () => resolve(res.statusCode ?? 0));
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(0));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Service {
  child: Child;
  port: number;
  dataDir: string;
  startupSeconds: number;
}

async function startService(label: string, root: string): Promise<Service> {
  for (let attempt = 1; ; attempt++) {
    const dataDir = path.join(root, `${label}-${attempt}`);
    await fsp.mkdir(dataDir);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    // The embedded database, no auth, the default filesystem storage under DATA_DIR/media.
    for (const key of Object.keys(env)) {
      if (/^(DATABASE_URL|AUTH_JWT_SECRET|MEDIA_ROOT|MEDIA_URL|STORAGE.*|S3_.*|BENCH_.*)$/.test(key)) delete env[key];
    }
    Object.assign(env, {
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      MAX_SIZE_DOCUMENT: String(Math.max(LARGE_BYTES, SMALL_BYTES) * 4),
    });
    const started = performance.now();
    const child = startChild(`service ${label}`, ["--trace-gc", "--import", "tsx", "src/main.ts"], env, REPO_ROOT);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!child.hasExited() && Date.now() < deadline) {
      if ((await httpGetStatus(port, "/healthz")) === 200) {
        return { child, port, dataDir, startupSeconds: (performance.now() - started) / 1000 };
      }
      await sleep(100);
    }
    const lostPortRace = child.hasExited() && child.output.some((line) => line.includes("EADDRINUSE"));
    await stopChild(child);
    if (lostPortRace && attempt < 3) continue;
    throw new Error(`The service did not become ready on port ${port}\n${failureReport(child)}`);
  }
}

interface Baseline {
  child: Child;
  port: number;
  dir: string;
}

async function startBaseline(root: string): Promise<Baseline> {
  const dir = path.join(root, "baseline");
  await fsp.mkdir(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_ROLE: "baseline-server", BENCH_DIR: dir };
  const child = startChild("baseline server", ["--import", "tsx", SELF], env, REPO_ROOT);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!child.hasExited() && Date.now() < deadline) {
    const line = child.output.find((l) => l.startsWith("BASELINE_PORT="));
    if (line) return { child, port: Number(line.slice("BASELINE_PORT=".length)), dir };
    await sleep(50);
  }
  throw new Error(`The baseline server did not start\n${failureReport(child)}`);
}

// ---------------------------------------------------------------------------------------------
// Test files and the streaming multipart request
// ---------------------------------------------------------------------------------------------

interface TestFile {
  path: string;
  size: number;
  sha256: string;
}

/** PDF header + one random 1 MiB block repeated, each copy stamped with its index; fsynced. */
function generateFile(file: string, size: number): TestFile {
  const block = randomBytes(MiB);
  const first = Buffer.from(block);
  PDF_HEADER.copy(first, 0);
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "wx");
  try {
    for (let offset = 0, index = 0; offset < size; offset += MiB, index++) {
      const whole = index === 0 ? first : block;
      const chunk = size - offset >= MiB ? whole : whole.subarray(0, size - offset);
      if (chunk.length >= 1024) chunk.writeUInt32LE(index, 1020);
      hash.update(chunk);
      for (let written = 0; written < chunk.length; ) written += fs.writeSync(fd, chunk, written);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { path: file, size, sha256: hash.digest("hex") };
}

interface MultipartBody {
  contentType: string;
  preamble: Buffer;
  epilogue: Buffer;
  file: TestFile;
  length: number;
}

/** operations, map, then the file part, as the GraphQL multipart request spec orders them. */
function multipartBody(file: TestFile, filename: string): MultipartBody {
  const boundary = `----mediabench${randomBytes(12).toString("hex")}`;
  const operations = JSON.stringify({ query: UPLOAD_MUTATION, variables: { input: { file: null } } });
  const map = JSON.stringify({ "0": ["variables.input.file"] });
  const preamble = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n${map}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${filename}"\r\n` +
      `Content-Type: application/pdf\r\n\r\n`,
    "utf8",
  );
  const epilogue = Buffer.from(`\r\n--${boundary}--\r\n`, "utf8");
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    preamble,
    epilogue,
    file,
    length: preamble.length + file.size + epilogue.length,
  };
}

interface PostResult {
  status: number;
  text: string;
  seconds: number;
}

/** POSTs the body without holding the file in memory: preamble, the file streamed from disk, epilogue. */
function postMultipart(port: number, urlPath: string, body: MultipartBody): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({
      host: "127.0.0.1",
      port,
      path: urlPath,
      method: "POST",
      agent: false,
      headers: {
        "content-type": body.contentType,
        "content-length": String(body.length),
        "apollo-require-preflight": "true",
      },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${UPLOAD_TIMEOUT_MS} ms`)), UPLOAD_TIMEOUT_MS);
    req.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("error", reject);
      res.once("end", () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString("utf8"),
          seconds: (performance.now() - started) / 1000,
        });
      });
    });
    req.write(body.preamble);
    const source = fs.createReadStream(body.file.path, { highWaterMark: MiB });
    source.once("error", (err) => req.destroy(err));
    source.once("end", () => req.end(body.epilogue));
    source.pipe(req, { end: false });
  });
}

// ---------------------------------------------------------------------------------------------
// Memory of the service process
// ---------------------------------------------------------------------------------------------

let clockTicks: number | undefined;

/** User and system CPU seconds the process (all its threads) has used so far. */
function cpuSeconds(pid: number): { user: number; system: number } {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name start at field 3 (state); utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / clockTicks, system: Number(fields[12]) / clockTicks };
}

function cpuDelta(before: { user: number; system: number }, after: { user: number; system: number }) {
  const user = after.user - before.user;
  return { user, total: user + after.system - before.system };
}


// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

interface RunResult {
  seconds: number;
  mibPerSecond: number;
  /** Full (major) and young-generation GCs of the service during the upload. */
  gcs?: { major: number; minor: number };
  /** CPU seconds the server process used for this upload, user + system. */
  cpuSeconds: number;
  cpuUserSeconds: number;
  mem?: MemWindow;
}

async function uploadToBaseline(baseline: Baseline, body: MultipartBody): Promise<RunResult> {
  const cpuBefore = cpuSeconds(baseline.child.pid);
  const res = await postMultipart(baseline.port, "/upload", body);
  const cpu = cpuDelta(cpuBefore, cpuSeconds(baseline.child.pid));
  if (res.status !== 200) throw new Error(`baseline answered ${res.status}: ${res.text.slice(0, 500)}`);
  const stored = (JSON.parse(res.text) as { bytes?: number }).bytes;
  if (stored !== body.length) throw new Error(`baseline stored ${stored} bytes, sent ${body.length}`);
  return { seconds: res.seconds, mibPerSecond: body.file.size / MiB / res.seconds, cpuSeconds: cpu.total, cpuUserSeconds: cpu.user };
}

async function uploadToService(service: Service, body: MultipartBody): Promise<RunResult> {
  const cpuBefore = cpuSeconds(service.child.pid);
  const gcsBefore = { ...service.child.gcs };
  const watch = watchMemory(service.child.pid, POLL_MS);
  let res: PostResult;
  try {
    res = await postMultipart(service.port, "/graphql", body);
  } catch (err) {
    watch.finish();
    throw new Error(`upload to the service failed: ${(err as Error).message}\n${failureReport(service.child)}`);
  }
  const mem = watch.finish();
  const cpu = cpuDelta(cpuBefore, cpuSeconds(service.child.pid));
  await sleep(100); // let the GC trace lines written during the upload arrive through the pipe
  const gcs = { major: service.child.gcs.major - gcsBefore.major, minor: service.child.gcs.minor - gcsBefore.minor };
  let parsed: {
    data?: { uploadShelf?: { kind?: string; original?: { size?: number; checksum?: string } } } | null;
    errors?: unknown;
  };
  try {
    parsed = JSON.parse(res.text) as typeof parsed;
  } catch {
    throw new Error(`the service answered ${res.status} with non-JSON: ${res.text.slice(0, 500)}`);
  }
  const original = parsed.data?.uploadShelf?.original;
  if (res.status !== 200 || parsed.errors || !original) {
    throw new Error(`the service refused the upload (HTTP ${res.status}): ${res.text.slice(0, 1000)}\n${failureReport(service.child)}`);
  }
  if (original.size !== body.file.size) {
    throw new Error(`uploadShelf.original.size is ${original.size}, the file has ${body.file.size} bytes`);
  }
  if (original.checksum !== body.file.sha256) {
    throw new Error(`uploadShelf.original.checksum is ${original.checksum}, the file's sha256 is ${body.file.sha256}`);
  }
  return { seconds: res.seconds, mibPerSecond: body.file.size / MiB / res.seconds, cpuSeconds: cpu.total, cpuUserSeconds: cpu.user, gcs, mem };
}

/** Every regular file under `dir` (directories stay). */
async function removeFilesUnder(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  await Promise.all(entries.filter((e) => e.isFile()).map((e) => fsp.rm(path.join(e.parentPath, e.name), { force: true })));
}

/**
 * One upload of `body` to each side, `serviceFirst` deciding the order. What an upload stored is
 * removed right after it, outside the timing: on the VM disk this was written on, writing got
 * markedly slower as written data accumulated (dd of 1 GiB with fsync: 0.5 s after a delete,
 * 2.8 s after four kept files), which would favour whichever side goes first. The service's
 * database keeps its rows; the service is thrown away afterwards anyway.
 */
async function uploadPair(
  label: string,
  baseline: Baseline,
  service: Service,
  body: MultipartBody,
  serviceFirst: boolean,
): Promise<{ baselineRun: RunResult; serviceRun: RunResult }> {
  let baselineRun: RunResult | undefined;
  let serviceRun: RunResult | undefined;
  const runBaseline = async () => {
    baselineRun = await uploadToBaseline(baseline, body);
    await removeFilesUnder(baseline.dir);
    logRun(`baseline ${label}`, baselineRun);
  };
  const runService = async () => {
    serviceRun = await uploadToService(service, body);
    await removeFilesUnder(path.join(service.dataDir, "media"));
    logRun(`service  ${label}`, serviceRun);
  };
  for (const step of serviceFirst ? [runService, runBaseline] : [runBaseline, runService]) {
    await step();
    await sleep(SETTLE_MS);
  }
  return { baselineRun: baselineRun!, serviceRun: serviceRun! };
}

/**
 * One untimed upload of `body` to a freshly started service, then a wait until its RSS is steady
 * (at most 8 s). Right after start-up the service's RSS is often a few hundred MiB above where it
 * settles a little later; the warm-up also JIT-compiles the upload path.
 */
async function warmUp(service: Service, body: MultipartBody): Promise<{ summary: string; resetNote?: string }> {
  const before = readMem(service.child.pid).rssKiB;
  const run = await uploadToService(service, body);
  await removeFilesUnder(path.join(service.dataDir, "media"));
  const samples: number[] = [];
  const deadline = Date.now() + 8000;
  for (;;) {
    samples.push(readMem(service.child.pid).rssKiB);
    const recent = samples.slice(-5);
    if (recent.length === 5 && Math.max(...recent) - Math.min(...recent) < 4096) break;
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  return {
    summary: `RSS ${mib(before)} after start-up, ${mib(samples.at(-1)!)} after a warm-up upload of ${sizeLabel(body.file.size)}`,
    resetNote: run.mem?.resetNote,
  };
}

const best = (runs: RunResult[]) => runs.reduce((a, b) => (b.mibPerSecond > a.mibPerSecond ? b : a));
const peakOf = (runs: RunResult[]) => Math.max(...runs.map((r) => r.mem?.peakKiB ?? 0));
const deltaOf = (runs: RunResult[]) => Math.max(...runs.map((r) => (r.mem ? r.mem.peakKiB - r.mem.idleKiB : 0)));
const minCpu = (runs: RunResult[]) => Math.min(...runs.map((r) => r.cpuSeconds));
const sizeLabel = (bytes: number) => (bytes >= 1024 * MiB ? `${bytes / (1024 * MiB)} GiB` : `${bytes / MiB} MiB`);

function logRun(what: string, run: RunResult): void {
  const mem = run.mem
    ? `  peak RSS ${mib(run.mem.peakKiB)} (idle ${mib(run.mem.idleKiB)}, +${mib(run.mem.peakKiB - run.mem.idleKiB)}; polled max ${mib(run.mem.polledPeakKiB)}; ${run.mem.hwmReset ? "VmHWM reset ok" : "VmHWM reset NOT verified, polled"})`
    : "";
  const gc = run.gcs ? `  GCs ${run.gcs.major} full / ${run.gcs.minor} young` : "";
  const cpu = `cpu ${run.cpuSeconds.toFixed(2).padStart(5)} s (user ${run.cpuUserSeconds.toFixed(2)})${gc}`;
  console.log(`  ${what.padEnd(22)} ${run.seconds.toFixed(2).padStart(6)} s  ${run.mibPerSecond.toFixed(0).padStart(5)} MiB/s  ${cpu}${mem}`);
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "media-bench-"));
  tempDirs.push(root);
  console.log(`upload benchmark: ${sizeLabel(LARGE_BYTES)} and ${sizeLabel(SMALL_BYTES)}, ${RUNS} run(s) each, temp dir ${root}`);

  const children: Child[] = [];
  try {
    // The files first, so the service does not boot while this process is busy writing them: in
    // trials, services started meanwhile more often ran every 1 GiB upload with ~35-40 full GCs
    // (about 1.5 s more CPU, ~30% less throughput) instead of none. The "full GCs" line shows it.
    const filesDir = path.join(root, "files");
    await fsp.mkdir(filesDir);
    const t = performance.now();
    const large = generateFile(path.join(filesDir, "large.pdf"), LARGE_BYTES);
    const small = generateFile(path.join(filesDir, "small.pdf"), SMALL_BYTES);
    console.log(`generated test files in ${((performance.now() - t) / 1000).toFixed(1)} s (written and fsynced)`);

    const baseline = await startBaseline(root);
    children.push(baseline.child);
    const service = await startService("service", root);
    children.push(service.child);
    console.log(`service ready in ${service.startupSeconds.toFixed(1)} s (pid ${service.child.pid}); baseline pid ${baseline.child.pid}`);

    const largeBody = multipartBody(large, "bench-large.pdf");
    const smallBody = multipartBody(small, "bench-small.pdf");

    const warm = await warmUp(service, smallBody);
    console.log(`warm-up: ${warm.summary}`);
    await uploadToBaseline(baseline, smallBody);
    await removeFilesUnder(baseline.dir);

    // One service process for both sizes, with VmHWM reset before every upload: the RSS a fresh
    // process idles at varies by a few hundred MiB from one start to the next (start-up garbage
    // given back or not), which would swamp the comparison between two processes. The sizes and
    // the order of the two sides alternate so that drift hits both alike.
    const baselineLarge: RunResult[] = [];
    const servLarge: RunResult[] = [];
    const baselineSmall: RunResult[] = [];
    const servSmall: RunResult[] = [];
    console.log("");
    for (let i = 1; i <= RUNS; i++) {
      const serviceFirst = i % 2 === 0;
      const large = await uploadPair(`${sizeLabel(LARGE_BYTES)} #${i}`, baseline, service, largeBody, serviceFirst);
      baselineLarge.push(large.baselineRun);
      servLarge.push(large.serviceRun);
      const small = await uploadPair(`${sizeLabel(SMALL_BYTES)} #${i}`, baseline, service, smallBody, !serviceFirst);
      baselineSmall.push(small.baselineRun);
      servSmall.push(small.serviceRun);
    }
    await stopChild(service.child);
    await stopChild(baseline.child);

    // Summary.
    const bLarge = best(baselineLarge).mibPerSecond;
    const sLarge = best(servLarge).mibPerSecond;
    const bSmall = best(baselineSmall).mibPerSecond;
    const sSmall = best(servSmall).mibPerSecond;
    const throughputRatio = sLarge / bLarge;
    const peakLarge = peakOf(servLarge);
    const peakSmall = peakOf(servSmall);
    const rssRatio = peakLarge / peakSmall;
    const verdict = (ok: boolean) => (ok ? "target met" : "target missed");
    const allReset = [...servLarge, ...servSmall].every((r) => r.mem?.hwmReset);

    console.log(`\nVmHWM reset check: ${allReset ? "ok for every upload" : "NOT verified for some uploads (polled VmRSS used there)"}`);
    if (warm.resetNote) console.log(`  first reset, on the fresh process: ${warm.resetNote}`);

    const rows: Array<[string, string, string, string]> = [
      [`baseline throughput, ${sizeLabel(LARGE_BYTES)} (best of ${RUNS})`, `${bLarge.toFixed(0)} MiB/s`, "", ""],
      [`service throughput, ${sizeLabel(LARGE_BYTES)} (best of ${RUNS})`, `${sLarge.toFixed(0)} MiB/s`, "", ""],
      ["service / baseline", throughputRatio.toFixed(2), `>= ${THROUGHPUT_TARGET}`, verdict(throughputRatio >= THROUGHPUT_TARGET)],
      [
        `server CPU per ${sizeLabel(LARGE_BYTES)} upload (info)`,
        `${minCpu(baselineLarge).toFixed(1)} s baseline / ${minCpu(servLarge).toFixed(1)} s service`,
        "",
        "",
      ],
      [
        `service full GCs per ${sizeLabel(LARGE_BYTES)} upload (info)`,
        servLarge.map((r) => r.gcs?.major ?? 0).join(", "),
        "",
        "",
      ],
      [`baseline throughput, ${sizeLabel(SMALL_BYTES)} (info)`, `${bSmall.toFixed(0)} MiB/s`, "", ""],
      [`service throughput, ${sizeLabel(SMALL_BYTES)} (info)`, `${sSmall.toFixed(0)} MiB/s`, "", ""],
      [`service peak RSS, ${sizeLabel(LARGE_BYTES)} upload`, `${mib(peakLarge)} (+${mib(deltaOf(servLarge))})`, "", ""],
      [`service peak RSS, ${sizeLabel(SMALL_BYTES)} upload`, `${mib(peakSmall)} (+${mib(deltaOf(servSmall))})`, "", ""],
      [`peak RSS ${sizeLabel(LARGE_BYTES)} / ${sizeLabel(SMALL_BYTES)}`, rssRatio.toFixed(2), `<= ${RSS_RATIO_TARGET}`, verdict(rssRatio <= RSS_RATIO_TARGET)],
    ];
    const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length), ["metric", "value", "target", "result"][c]!.length));
    const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
    console.log(`\n${line(["metric", "value", "target", "result"])}`);
    console.log(widths.map((w) => "-".repeat(w)).join("  "));
    for (const row of rows) console.log(line(row));
    console.log("(+N = peak minus the service's RSS just before the upload)");
    console.log(`\ntotal runtime ${elapsed()}`);
  } finally {
    for (const child of children) await stopChild(child).catch(() => {});
    cleanupSync();
  }
}

if (process.env.BENCH_ROLE === "baseline-server") {
  runBaselineServer();
} else {
  const watchdog = setTimeout(() => {
    console.error(`bench: gave up after ${OVERALL_TIMEOUT_MS / 1000} s`);
    cleanupSync();
    process.exit(1);
  }, OVERALL_TIMEOUT_MS);
  watchdog.unref();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}, cleaning up`);
      cleanupSync();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
  process.once("exit", cleanupSync);
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
      cleanupSync();
      process.exit(1);
    },
  );
}
