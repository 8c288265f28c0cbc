/**
 * Storage benchmark: throughput and memory of the storage adapters against raw baselines.
 *
 * In one run it
 *  - starts s3rver (test/helpers/s3.ts) on loopback in a child process of its own
 *    (storage/s3rver-server.ts), so that the server does not share an event loop (or an RSS) with
 *    the client being measured;
 *  - measures peak RSS growth first, each measurement in a fresh child process
 *    (storage/memory-probe.ts): after an untimed warm-up and a GC the child resets VmHWM
 *    (`echo 5 > /proc/self/clear_refs`) and notes its RSS, writes then reads back BENCH_SMALL_MIB
 *    (32) or BENCH_MIB (256) MiB through FileSystemStorage or S3Storage while sampling RSS every
 *    20 ms, and reports max(VmHWM, sampled max) minus that RSS. Sizes are interleaved and each one
 *    is measured BENCH_MEM_REPS (2) times (the mean is kept). Below about 100 MiB the growth is
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
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { makeTempDir, startScript, stopChild, waitForLine, type Child } from "./harness/children.js";
import { onCleanup, runBenchmark } from "./harness/lifecycle.js";
import { MiB, positiveInt, secondsSince } from "./harness/settings.js";
import { fmtMiB, sizeLabel } from "./storage/data.js";
import { measureMemory } from "./storage/memory.js";
import { adapterTarget, BUCKET, fsAdapter, PART_SIZE, QUEUE_SIZE, rawFsTarget, rawS3Target, s3Adapter, s3Client } from "./storage/targets.js";
import { comparePair, informational, type Best } from "./storage/throughput.js";

const LARGE_BYTES = positiveInt(process.env.BENCH_MIB, 256) * MiB;
const SMALL_BYTES = positiveInt(process.env.BENCH_SMALL_MIB, 32) * MiB;
const HUGE_BYTES = positiveInt(process.env.BENCH_HUGE_MIB, 1024) * MiB;
const RUNS = positiveInt(process.env.BENCH_RUNS, 3);
const MEM_REPS = positiveInt(process.env.BENCH_MEM_REPS, 2);
const DB_RUNS = positiveInt(process.env.BENCH_DB_RUNS, 1);

const THROUGHPUT_TARGET = 0.9; // adapter / raw, at least
/** RSS growth at the large size over growth at the small size: "about 1". */
const RSS_RATIO_TARGET = 1.25;
/** ...or, when growth is too small for a ratio to mean much, at most this much more in absolute terms. */
const RSS_SLACK_BYTES = 8 * MiB;

const fmtRate = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(0));

async function startS3rver(root: string): Promise<{ child: Child; endpoint: string; directory: string }> {
  const tmp = path.join(root, "s3rver");
  await fsp.mkdir(tmp);
  // startS3Server makes its directory under os.tmpdir(): inside our root, so it goes with it.
  const child = startScript("s3rver", path.join(import.meta.dirname, "storage", "s3rver-server.ts"), { ...process.env, TMPDIR: tmp });
  const endpoint = (await waitForLine(child, /^S3_ENDPOINT=(.*)$/, 60_000))[1]!;
  const directory = child.output.find((l) => l.startsWith("S3_DIR="))?.slice("S3_DIR=".length) ?? "?";
  if (!directory.startsWith(tmp + path.sep)) console.log(`WARNING: s3rver keeps its data outside ${tmp}: ${directory}`);
  return { child, endpoint, directory };
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

/** DatabaseStorage on a fresh embedded PGlite, for information. */
async function databaseThroughput(dir: string): Promise<Best> {
  const started = performance.now();
  const { openDatabase } = await import("../src/db/client.js");
  const { applyPendingMigrations } = await import("../src/db/migrate.js");
  const { DatabaseStorage } = await import("../src/storage/database.js");
  const database = await openDatabase({ embeddedDbDir: dir });
  const close = onCleanup("PGlite", () => database.close());
  await applyPendingMigrations(database.adapterFactory);
  console.log(`  (PGlite opened and migrated in ${secondsSince(started).toFixed(1)} s)`);
  const target = adapterTarget("database adapter", new DatabaseStorage({ prisma: database.prisma, alias: "bench", baseUrl: "/media/" }));
  const result = await informational(target, LARGE_BYTES, DB_RUNS);
  await close();
  return result;
}

async function main(): Promise<void> {
  const started = performance.now();
  const root = makeTempDir("media-bench-storage-");
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
  onCleanup("s3rver", () => stopChild(s3.child, 3000));
  console.log(`s3rver (child pid ${s3.child.pid}) at ${s3.endpoint}, data in ${s3.directory}`);
  const client = s3Client(s3.endpoint);
  onCleanup("S3 client", async () => client.destroy());

  // 1. Memory, before this process has done anything heavy; one fresh child per measurement.
  console.log(
    `\nPeak RSS growth during write+read (child process per measurement; ${MEM_REPS}x ${sizeLabel(SMALL_BYTES)} and ${sizeLabel(LARGE_BYTES)}, 1x ${sizeLabel(HUGE_BYTES)}):`,
  );
  const memMean = await measureMemory({ small: SMALL_BYTES, large: LARGE_BYTES, huge: HUGE_BYTES }, MEM_REPS, dirs.memChildren, s3.endpoint);

  // 2. Throughput in this process.
  console.log(`\nThroughput, ${sizeLabel(LARGE_BYTES)} per run:`);
  const fsResult = await comparePair(adapterTarget("filesystem adapter", fsAdapter(dirs.fsAdapter)), rawFsTarget(dirs.fsRaw), LARGE_BYTES, SMALL_BYTES, RUNS);
  const s3Result = await comparePair(adapterTarget("S3 adapter", s3Adapter(s3.endpoint, "adapter")), rawS3Target(client, "raw/"), LARGE_BYTES, SMALL_BYTES, RUNS);
  const { InMemoryStorage } = await import("../src/storage/memory.js");
  const memoryBest = await informational(adapterTarget("in-memory adapter", new InMemoryStorage({ baseUrl: "/media/" })), LARGE_BYTES, RUNS);
  const dbBest = await databaseThroughput(dirs.pglite);

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
  console.log(`\nTotal time ${secondsSince(started).toFixed(1)} s`);
}

runBenchmark("bench:storage", main, { timeoutMs: 6 * 60_000 });
