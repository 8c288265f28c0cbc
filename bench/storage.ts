/**
 * Storage benchmark: throughput and memory of the storage adapters against raw baselines.
 *
 * In one run it
 *  - starts s3rver (test/helpers/s3.ts) on loopback in a child process of its own, so that the
 *    server does not share an event loop (or an RSS) with the client being measured;
 *  - measures peak RSS growth first, each measurement in a fresh child process (this file, run
 *    with BENCH_ROLE=memory): after an untimed warm-up and a GC the child notes its RSS, resets
 *    VmHWM (`echo 5 > /proc/self/clear_refs`), writes then reads back BENCH_SMALL_MIB (32) or
 *    BENCH_MIB (256) MiB through FileSystemStorage or S3Storage while sampling RSS every 20 ms,
 *    and reports max(VmHWM, sampled max) minus that RSS. Sizes are interleaved and each one is
 *    measured BENCH_MEM_REPS (2) times (the mean is kept). Below about 100 MiB the growth is
 *    mostly garbage V8 has not collected yet (Buffers are freed only at a GC, and V8 lets about
 *    64 MiB of them pile up first), so a 32 MiB run does not reach the steady state; one more
 *    run of BENCH_HUGE_MIB (1024) MiB checks that growth has levelled off by BENCH_MIB;
 *  - measures throughput in this process: BENCH_RUNS (3) rounds of write + read of BENCH_MIB through
 *    FileSystemStorage and its raw baseline (fs.createWriteStream + fsync, fs.createReadStream),
 *    and through S3Storage and its raw baseline (lib-storage Upload with the same partSize and
 *    queueSize, GetObjectCommand), alternating which goes first, deleting what was written after
 *    each measurement; the best write and the best read of each are kept. InMemoryStorage and
 *    DatabaseStorage on embedded PGlite are measured too, for information (no target);
 *  - streams the data from a generator (1 MiB views, each at its own offset, of one random buffer
 *    that is never modified: nothing is allocated per chunk), and reads back by consuming the
 *    stream into sha256, which must match what was written (otherwise it stops with exit code 1).
 *
 * Prints a table with "target met"/"target missed" per ratio and exits 0 whatever the figures;
 * exits 1 only when something fails. Temp dirs and the s3rver child are removed on every exit path.
 *
 * Run: npm run bench:storage
 * (optional env: BENCH_MIB=256, BENCH_SMALL_MIB=32, BENCH_HUGE_MIB=1024, BENCH_RUNS=3,
 *  BENCH_MEM_REPS=2, BENCH_DB_RUNS=1)
 */
import { Upload } from "@aws-sdk/lib-storage";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { cleanupSync, positiveInt, startChild, stopChild, tempDirs, type Child } from "./children.js";
import v8 from "node:v8";
import vm from "node:vm";
import type { Storage } from "../src/storage/contract.js";
import { FileSystemStorage } from "../src/storage/filesystem.js";
import { S3Storage } from "../src/storage/s3.js";

const MiB = 1024 * 1024;
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);

const LARGE_BYTES = positiveInt(process.env.BENCH_MIB, 256) * MiB;
const SMALL_BYTES = positiveInt(process.env.BENCH_SMALL_MIB, 32) * MiB;
const HUGE_BYTES = positiveInt(process.env.BENCH_HUGE_MIB, 1024) * MiB;
const RUNS = positiveInt(process.env.BENCH_RUNS, 3);
const MEM_REPS = positiveInt(process.env.BENCH_MEM_REPS, 2);
const DB_RUNS = positiveInt(process.env.BENCH_DB_RUNS, 1);

/** S3 multipart settings, the adapter's defaults, given explicitly to both the adapter and the baseline. */
const PART_SIZE = 8 * MiB;
const QUEUE_SIZE = 4;
const BUCKET = "media";
const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

const THROUGHPUT_TARGET = 0.9; // adapter / raw, at least
/** RSS growth at the large size over growth at the small size: "about 1". */
const RSS_RATIO_TARGET = 1.25;
/** ...or, when growth is too small for a ratio to mean much, at most this much more in absolute terms. */
const RSS_SLACK_BYTES = 8 * MiB;

const POLL_MS = 20;
const SETTLE_MS = 300;
const CHILD_TIMEOUT_MS = 90_000;
const OVERALL_TIMEOUT_MS = 6 * 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A full GC between measurements, so that one run's garbage is not collected during the next. */
const gc: () => void = (() => {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
})();

// ---------------------------------------------------------------------------------------------
// Data: generated, streamed, hashed
// ---------------------------------------------------------------------------------------------

/** Slack after the first MiB of POOL: chunk i starts at (i * STRIDE) % SLACK, so no two of 4096 chunks are alike. */
const SLACK = 4096;
const STRIDE = 997;
/** Random bytes, never written to after this: chunks are views of it, so consumers may keep them. */
const POOL = randomBytes(MiB + SLACK);

/**
 * `size` bytes in 1 MiB chunks, each a view of POOL at its own offset: nothing is allocated per
 * chunk (the benchmark adds no garbage of its own to what it measures), yet a chunk that went
 * missing, came twice or out of order changes the sha256.
 */
function* chunks(size: number): Generator<Buffer> {
  for (let offset = 0, index = 0; offset < size; offset += MiB, index++) {
    const start = (index * STRIDE) % SLACK;
    yield POOL.subarray(start, start + Math.min(MiB, size - offset));
  }
}

function source(size: number): Readable {
  return Readable.from(chunks(size), { objectMode: false, highWaterMark: MiB });
}

const expectedHashes = new Map<number, string>();

function expectedHash(size: number): string {
  let hash = expectedHashes.get(size);
  if (hash === undefined) {
    const h = createHash("sha256");
    for (const chunk of chunks(size)) h.update(chunk);
    hash = h.digest("hex");
    expectedHashes.set(size, hash);
  }
  return hash;
}

async function consume(stream: Readable): Promise<{ bytes: number; sha256: string }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: h.digest("hex") };
}

class IntegrityError extends Error {
  override name = "IntegrityError";
}

// ---------------------------------------------------------------------------------------------
// What is measured: adapters and raw baselines behind one small interface
// ---------------------------------------------------------------------------------------------

interface Target {
  label: string;
  write(key: string, size: number): Promise<void>;
  read(key: string): Promise<Readable>;
  remove(key: string): Promise<void>;
}

function adapterTarget(label: string, storage: Storage): Target {
  return {
    label,
    async write(key, size) {
      const stored = await storage.save(key, source(size), { contentType: "application/octet-stream" });
      if (stored !== key) throw new Error(`${label} stored ${key} as ${stored}: something was left from an earlier run`);
    },
    read: (key) => storage.open(key),
    remove: (key) => storage.delete(key),
  };
}

function rawFsTarget(dir: string): Target {
  return {
    label: "filesystem raw",
    async write(key, size) {
      const file = path.join(dir, key);
      await pipeline(source(size), fs.createWriteStream(file, { flags: "wx" }));
      // FileSystemStorage fsyncs what it writes; so does the baseline.
      const handle = await fsp.open(file, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    read: async (key) => fs.createReadStream(path.join(dir, key)),
    remove: (key) => fsp.rm(path.join(dir, key), { force: true }),
  };
}

function s3Client(endpoint: string): S3Client {
  // The settings S3Storage gives its own client (src/storage/s3.ts clientConfig), timeouts aside.
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
  });
}

function rawS3Target(client: S3Client, prefix: string): Target {
  return {
    label: "S3 raw",
    async write(key, size) {
      const upload = new Upload({
        client,
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
        params: { Bucket: BUCKET, Key: prefix + key, Body: source(size), ContentType: "application/octet-stream" },
      });
      await upload.done();
    },
    async read(key) {
      const result = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: prefix + key }));
      return result.Body as Readable;
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: prefix + key }));
    },
  };
}

function fsAdapter(dir: string): FileSystemStorage {
  return new FileSystemStorage({ location: dir, baseUrl: "/media/" });
}

function s3Adapter(endpoint: string, location: string): S3Storage {
  return new S3Storage({
    bucket: BUCKET,
    location,
    endpoint,
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
  });
}

interface Measurement {
  writeSeconds: number;
  readSeconds: number;
  writeMiBs: number;
  readMiBs: number;
}

let keyCounter = 0;

/** Writes `size` bytes, reads them back and checks them, removes them; write and read are timed apart. */
async function writeReadCheck(target: Target, size: number): Promise<Measurement> {
  const key = `bench-${process.pid}-${keyCounter++}.bin`;
  const expected = expectedHash(size);
  try {
    const t0 = performance.now();
    await target.write(key, size);
    const t1 = performance.now();
    const got = await consume(await target.read(key));
    const t2 = performance.now();
    if (got.bytes !== size || got.sha256 !== expected) {
      throw new IntegrityError(
        `${target.label}: READ-BACK MISMATCH for ${key}: got ${got.bytes} bytes sha256 ${got.sha256}, wrote ${size} bytes sha256 ${expected}`,
      );
    }
    const writeSeconds = (t1 - t0) / 1000;
    const readSeconds = (t2 - t1) / 1000;
    return { writeSeconds, readSeconds, writeMiBs: size / MiB / writeSeconds, readMiBs: size / MiB / readSeconds };
  } finally {
    await target.remove(key).catch((err: Error) => console.error(`  (could not remove ${key} from ${target.label}: ${err.message})`));
  }
}

// ---------------------------------------------------------------------------------------------
// Child roles: the s3rver process and the memory measurement process
// ---------------------------------------------------------------------------------------------

async function runS3rverChild(): Promise<void> {
  const { startS3Server } = await import("../test/helpers/s3.js");
  const server = await startS3Server(BUCKET);
  const stop = () => {
    server.close().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Should the benchmark die without stopping us (SIGKILL), we are re-parented: go too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 1000).unref();
  process.stdout.write(`S3_DIR=${server.directory}\nS3_ENDPOINT=${server.endpoint}\n`);
}

interface MemResult {
  adapter: string;
  size: number;
  baselineBytes: number;
  peakBytes: number;
  growthBytes: number;
  hwmReset: boolean;
  polledPeakBytes: number;
  seconds: number;
}

function procStatusKiB(field: "VmRSS" | "VmHWM"): number {
  const status = fs.readFileSync("/proc/self/status", "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!m?.[1]) throw new Error(`/proc/self/status has no ${field}`);
  return Number(m[1]);
}

async function runMemoryChild(): Promise<void> {
  const adapter = process.env.BENCH_ADAPTER;
  const size = Number(process.env.BENCH_SIZE_BYTES);
  const dir = process.env.BENCH_DIR ?? "";
  let storage: Storage;
  if (adapter === "filesystem") storage = fsAdapter(dir);
  else if (adapter === "s3") storage = s3Adapter(process.env.BENCH_S3_ENDPOINT ?? "", `mem-${process.pid}`);
  else throw new Error(`unknown BENCH_ADAPTER ${adapter}`);
  const target = adapterTarget(adapter, storage);

  // Warm-up: load and compile the whole path (two parts, so S3 takes the multipart path), untimed.
  await writeReadCheck(target, 2 * PART_SIZE + MiB);
  expectedHash(size);
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }

  const baselineBytes = process.memoryUsage.rss();
  let hwmReset = false;
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    hwmReset = procStatusKiB("VmHWM") - procStatusKiB("VmRSS") <= 2048;
  } catch {
    // no clear_refs: the sampled maximum alone
  }
  let polledPeakBytes = baselineBytes;
  const sample = () => {
    polledPeakBytes = Math.max(polledPeakBytes, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, POLL_MS);
  const started = performance.now();
  await writeReadCheck(target, size);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  sample();
  const peakBytes = hwmReset ? Math.max(procStatusKiB("VmHWM") * 1024, polledPeakBytes) : polledPeakBytes;
  const result: MemResult = {
    adapter,
    size,
    baselineBytes,
    peakBytes,
    growthBytes: peakBytes - baselineBytes,
    hwmReset,
    polledPeakBytes,
    seconds,
  };
  process.stdout.write(`BENCH_RESULT=${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Children and cleanup (main process)
// ---------------------------------------------------------------------------------------------

/** This script again, as a child in the role its environment names. */
const startSelf = (env: NodeJS.ProcessEnv): Child => startChild(env.BENCH_ROLE ?? "child", ["--import", "tsx", SELF], env, REPO_ROOT);

/** Environment for children: ours without BENCH_* settings other than those given. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("BENCH_ROLE") || key.startsWith("BENCH_ADAPTER")) delete env[key];
  return { ...env, ...extra };
}

async function startS3rver(root: string): Promise<{ child: Child; endpoint: string; directory: string }> {
  const tmp = path.join(root, "s3rver");
  await fsp.mkdir(tmp);
  // startS3Server makes its directory under os.tmpdir(): inside our root, so it goes with it.
  const child = startSelf(childEnv({ BENCH_ROLE: "s3rver", TMPDIR: tmp }));
  const deadline = Date.now() + 60_000;
  while (!child.hasExited() && Date.now() < deadline) {
    const line = child.output.find((l) => l.startsWith("S3_ENDPOINT="));
    if (line) {
      const directory = child.output.find((l) => l.startsWith("S3_DIR="))?.slice("S3_DIR=".length) ?? "?";
      if (!directory.startsWith(tmp + path.sep)) console.log(`WARNING: s3rver keeps its data outside ${tmp}: ${directory}`);
      return { child, endpoint: line.slice("S3_ENDPOINT=".length), directory };
    }
    await sleep(50);
  }
  await stopChild(child, 3000);
  throw new Error(`s3rver did not start:\n${child.output.join("\n")}`);
}

async function measureMemory(adapter: "filesystem" | "s3", size: number, dir: string, endpoint: string): Promise<MemResult> {
  const child = startSelf(
    childEnv({ BENCH_ROLE: "memory", BENCH_ADAPTER: adapter, BENCH_SIZE_BYTES: String(size), BENCH_DIR: dir, BENCH_S3_ENDPOINT: endpoint }),
  );
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), CHILD_TIMEOUT_MS).unref());
  const code = await Promise.race([child.exited, timeout]);
  if (code === "timeout") {
    await stopChild(child, 500);
    throw new Error(`memory child (${adapter}, ${sizeLabel(size)}) took over ${CHILD_TIMEOUT_MS / 1000} s:\n${child.output.join("\n")}`);
  }
  const line = child.output.find((l) => l.startsWith("BENCH_RESULT="));
  if (code !== 0 || !line) throw new Error(`memory child (${adapter}, ${sizeLabel(size)}) exited with ${code}:\n${child.output.join("\n")}`);
  return JSON.parse(line.slice("BENCH_RESULT=".length)) as MemResult;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const fmtMiB = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const sizeLabel = (bytes: number) => `${Math.round(bytes / MiB)} MiB`;
const fmtRate = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(0));

function logRun(label: string, m: Measurement): void {
  console.log(
    `  ${label.padEnd(22)} write ${m.writeMiBs.toFixed(0).padStart(5)} MiB/s (${m.writeSeconds.toFixed(2)} s)   read ${m.readMiBs.toFixed(0).padStart(5)} MiB/s (${m.readSeconds.toFixed(2)} s)`,
  );
}

/** Best (the figure that counts) and median (to show how noisy the runs were) MiB/s. */
interface Best {
  write: number;
  read: number;
  medianWrite: number;
  medianRead: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function best(runs: Measurement[]): Best {
  const writes = runs.map((r) => r.writeMiBs);
  const reads = runs.map((r) => r.readMiBs);
  return { write: Math.max(...writes), read: Math.max(...reads), medianWrite: median(writes), medianRead: median(reads) };
}

/** RUNS rounds of adapter and raw, alternating which goes first; one untimed warm-up of each first. */
async function comparePair(adapter: Target, raw: Target): Promise<{ adapter: Best; raw: Best }> {
  await writeReadCheck(adapter, SMALL_BYTES);
  await writeReadCheck(raw, SMALL_BYTES);
  const runs = new Map<Target, Measurement[]>([
    [adapter, []],
    [raw, []],
  ]);
  for (let i = 0; i < RUNS; i++) {
    for (const target of i % 2 === 0 ? [adapter, raw] : [raw, adapter]) {
      gc();
      await sleep(SETTLE_MS);
      const m = await writeReadCheck(target, LARGE_BYTES);
      runs.get(target)!.push(m);
      logRun(`${target.label} #${i + 1}`, m);
    }
  }
  return { adapter: best(runs.get(adapter)!), raw: best(runs.get(raw)!) };
}

async function informational(target: Target, runs: number): Promise<Best> {
  const all: Measurement[] = [];
  for (let i = 0; i < runs; i++) {
    gc();
    await sleep(SETTLE_MS);
    const m = await writeReadCheck(target, LARGE_BYTES);
    all.push(m);
    logRun(`${target.label} #${i + 1}`, m);
  }
  return best(all);
}

async function leftovers(dirs: string[], client: S3Client): Promise<string[]> {
  const found: string[] = [];
  for (const dir of dirs) {
    const entries = await fsp.readdir(dir, { recursive: true }).catch(() => []);
    if (entries.length > 0) found.push(`${dir}: ${entries.slice(0, 5).join(", ")}`);
  }
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  for (const o of listed.Contents ?? []) found.push(`s3://${BUCKET}/${o.Key}`);
  return found;
}

async function main(): Promise<void> {
  const started = performance.now();
  const watchdog = setTimeout(() => {
    console.error(`bench:storage: still running after ${OVERALL_TIMEOUT_MS / 60_000} min; giving up`);
    cleanupSync();
    process.exit(1);
  }, OVERALL_TIMEOUT_MS);
  watchdog.unref();

  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "media-bench-storage-"));
  tempDirs.push(root);
  const dirs = {
    fsAdapter: path.join(root, "fs-adapter"),
    fsRaw: path.join(root, "fs-raw"),
    memChildren: path.join(root, "fs-memory"),
    pglite: path.join(root, "pglite"),
  };
  for (const dir of [dirs.fsAdapter, dirs.fsRaw, dirs.memChildren]) await fsp.mkdir(dir);

  console.log(
    `Storage benchmark: ${sizeLabel(LARGE_BYTES)} (memory also ${sizeLabel(SMALL_BYTES)}), best of ${RUNS}, ` +
      `S3 partSize ${sizeLabel(PART_SIZE)} queueSize ${QUEUE_SIZE}; Node ${process.version}, ${os.cpus().length} CPUs; temp dir ${root}`,
  );
  const s3 = await startS3rver(root);
  console.log(`s3rver (child pid ${s3.child.proc.pid}) at ${s3.endpoint}, data in ${s3.directory}`);
  const client = s3Client(s3.endpoint);
  let db: { close(): Promise<void> } | undefined;
  try {
    // 1. Memory, before this process has done anything heavy; one fresh child per measurement.
    console.log(
      `\nPeak RSS growth during write+read (child process per measurement; ${MEM_REPS}x ${sizeLabel(SMALL_BYTES)} and ${sizeLabel(LARGE_BYTES)}, 1x ${sizeLabel(HUGE_BYTES)}):`,
    );
    const mem = new Map<string, MemResult[]>();
    const plan: Array<["filesystem" | "s3", number]> = [];
    for (let rep = 0; rep < MEM_REPS; rep++) {
      const sizes = rep % 2 === 0 ? [SMALL_BYTES, LARGE_BYTES] : [LARGE_BYTES, SMALL_BYTES];
      for (const adapter of ["filesystem", "s3"] as const) for (const size of sizes) plan.push([adapter, size]);
    }
    for (const adapter of ["filesystem", "s3"] as const) plan.push([adapter, HUGE_BYTES]);
    for (const [adapter, size] of plan) {
      const r = await measureMemory(adapter, size, dirs.memChildren, s3.endpoint);
      const key = `${adapter}:${size}`;
      mem.set(key, [...(mem.get(key) ?? []), r]);
      console.log(
        `  ${adapter.padEnd(10)} ${sizeLabel(size).padStart(8)}: RSS ${fmtMiB(r.baselineBytes)} -> peak ${fmtMiB(r.peakBytes)}, ` +
          `growth ${fmtMiB(r.growthBytes)} (${r.hwmReset ? "VmHWM reset" : "sampled only"}; ${r.seconds.toFixed(1)} s)`,
      );
    }
    /** Mean over the reps: the growth of a single run depends on where it caught the GC cycle. */
    const memMean = (adapter: string, size: number) => {
      const runs = mem.get(`${adapter}:${size}`) ?? [];
      const mean = (f: (r: MemResult) => number) => runs.reduce((sum, r) => sum + f(r), 0) / runs.length;
      return { growthBytes: mean((r) => r.growthBytes), peakBytes: mean((r) => r.peakBytes) };
    };

    // 2. Throughput in this process.
    console.log(`\nThroughput, ${sizeLabel(LARGE_BYTES)} per run:`);
    const fsResult = await comparePair(adapterTarget("filesystem adapter", fsAdapter(dirs.fsAdapter)), rawFsTarget(dirs.fsRaw));
    const s3Result = await comparePair(adapterTarget("S3 adapter", s3Adapter(s3.endpoint, "adapter")), rawS3Target(client, "raw/"));

    const { InMemoryStorage } = await import("../src/storage/memory.js");
    const memoryBest = await informational(adapterTarget("in-memory adapter", new InMemoryStorage({ baseUrl: "/media/" })), RUNS);

    const dbStarted = performance.now();
    const { openDatabase } = await import("../src/db/client.js");
    const { applyPendingMigrations } = await import("../src/db/migrate.js");
    const { DatabaseStorage } = await import("../src/storage/database.js");
    const database = await openDatabase({ embeddedDbDir: dirs.pglite });
    db = database;
    await applyPendingMigrations(database.adapterFactory);
    console.log(`  (PGlite opened and migrated in ${((performance.now() - dbStarted) / 1000).toFixed(1)} s)`);
    const dbBest = await informational(
      adapterTarget("database adapter", new DatabaseStorage({ prisma: database.prisma, alias: "bench", baseUrl: "/media/" })),
      DB_RUNS,
    );

    const left = await leftovers([dirs.fsAdapter, dirs.fsRaw, dirs.memChildren], client);
    if (left.length > 0) console.log(`\nWARNING: left behind after delete: ${left.join("; ")}`);

    // 3. Tables.
    const rows: Array<[string, Best | undefined]> = [
      ["filesystem adapter", fsResult.adapter],
      ["filesystem raw", fsResult.raw],
      ["S3 adapter", s3Result.adapter],
      ["S3 raw (Upload/GetObject)", s3Result.raw],
      ["in-memory adapter (info)", memoryBest],
      ["database/PGlite (info)", dbBest],
    ];
    console.log(`\nThroughput (MiB/s, ${sizeLabel(LARGE_BYTES)}), best of runs (median in brackets):`);
    console.log(`  ${"".padEnd(28)} ${"write".padStart(14)} ${"read".padStart(14)}`);
    for (const [label, b] of rows) {
      const cell = (v: number | undefined, m: number | undefined) => `${fmtRate(v)} (${fmtRate(m)})`.padStart(14);
      console.log(`  ${label.padEnd(28)} ${cell(b?.write, b?.medianWrite)} ${cell(b?.read, b?.medianRead)}`);
    }

    console.log(`\nPeak RSS growth (write+read), mean of runs:`);
    console.log(
      `  ${"".padEnd(12)} ${sizeLabel(SMALL_BYTES).padStart(10)} ${sizeLabel(LARGE_BYTES).padStart(10)} ${sizeLabel(HUGE_BYTES).padStart(10)}` +
        `   ${`${sizeLabel(LARGE_BYTES)}/${sizeLabel(SMALL_BYTES)}`.padStart(16)} ${`${sizeLabel(HUGE_BYTES)}/${sizeLabel(LARGE_BYTES)}`.padStart(18)}` +
        `   peak RSS ${sizeLabel(SMALL_BYTES)} / ${sizeLabel(LARGE_BYTES)} / ${sizeLabel(HUGE_BYTES)}`,
    );
    const memRatios: Array<{ label: string; ratio: number; met: boolean; note: string }> = [];
    const memRow = (label: string, small: { growthBytes: number }, large: { growthBytes: number }) => {
      const ratio = large.growthBytes / Math.max(small.growthBytes, 1);
      const met = ratio <= RSS_RATIO_TARGET || large.growthBytes - small.growthBytes <= RSS_SLACK_BYTES;
      memRatios.push({ label, ratio, met, note: `<= ${RSS_RATIO_TARGET} or <= +${sizeLabel(RSS_SLACK_BYTES)}` });
      return ratio;
    };
    for (const adapter of ["filesystem", "s3"] as const) {
      const name = adapter === "s3" ? "S3" : "filesystem";
      const small = memMean(adapter, SMALL_BYTES);
      const large = memMean(adapter, LARGE_BYTES);
      const huge = memMean(adapter, HUGE_BYTES);
      const r1 = memRow(`${name} RSS growth ${sizeLabel(LARGE_BYTES)}/${sizeLabel(SMALL_BYTES)}`, small, large);
      const r2 = memRow(`${name} RSS growth ${sizeLabel(HUGE_BYTES)}/${sizeLabel(LARGE_BYTES)}`, large, huge);
      console.log(
        `  ${name.padEnd(12)} ${fmtMiB(small.growthBytes).padStart(10)} ${fmtMiB(large.growthBytes).padStart(10)} ${fmtMiB(huge.growthBytes).padStart(10)}` +
          `   ${r1.toFixed(2).padStart(16)} ${r2.toFixed(2).padStart(18)}` +
          `   ${fmtMiB(small.peakBytes)} / ${fmtMiB(large.peakBytes)} / ${fmtMiB(huge.peakBytes)}`,
      );
    }

    const ratioRows = [
      { label: "filesystem write adapter/raw", a: fsResult.adapter, r: fsResult.raw, op: "write" as const },
      { label: "filesystem read adapter/raw", a: fsResult.adapter, r: fsResult.raw, op: "read" as const },
      { label: "S3 write adapter/raw", a: s3Result.adapter, r: s3Result.raw, op: "write" as const },
      { label: "S3 read adapter/raw", a: s3Result.adapter, r: s3Result.raw, op: "read" as const },
    ].map(({ label, a, r, op }) => {
      const ratio = a[op] / r[op];
      const medianRatio = op === "write" ? a.medianWrite / r.medianWrite : a.medianRead / r.medianRead;
      return { label, ratio, met: ratio >= THROUGHPUT_TARGET, note: `>= ${THROUGHPUT_TARGET} (median ${medianRatio.toFixed(2)})` };
    });

    console.log(`\nTargets:`);
    console.log(`  ${"".padEnd(38)} ${"ratio".padStart(6)}  ${"target".padEnd(26)} result`);
    for (const r of [...ratioRows, ...memRatios]) {
      console.log(`  ${r.label.padEnd(38)} ${r.ratio.toFixed(2).padStart(6)}  ${r.note.padEnd(26)} ${r.met ? "target met" : "target missed"}`);
    }
    console.log(`\nTotal time ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    client.destroy();
    await db?.close().catch(() => {});
    await stopChild(s3.child, 3000);
    cleanupSync();
  }
}

const role = process.env.BENCH_ROLE;
if (role === "s3rver") {
  await runS3rverChild();
} else if (role === "memory") {
  try {
    await runMemoryChild();
    process.exit(0);
  } catch (err) {
    console.error(err);
    process.exit(1);
  }
} else {
  process.on("exit", cleanupSync);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      cleanupSync();
      process.exit(130);
    });
  }
  try {
    await main();
    process.exit(0);
  } catch (err) {
    console.error(`\nbench:storage FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    cleanupSync();
    process.exit(1);
  }
}
