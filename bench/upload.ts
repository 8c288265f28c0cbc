/**
 * Upload benchmark: throughput and memory of a large streaming upload through /graphql.
 *
 * In one run it
 *  - generates a 1 GiB and a 100 MiB file (PDF header + pseudo-random filler, fsynced) in a temp dir;
 *  - starts, in child processes, a minimal Node HTTP server that only streams the request body to
 *    a file and fsyncs it (the baseline, upload/baseline-server.ts), and the real service (`node
 *    --trace-gc --import tsx src/main.ts`, each with its own temp DATA_DIR and the embedded
 *    database; --trace-gc only logs, so that full GCs during an upload can be counted);
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
import fsp from "node:fs/promises";
import path from "node:path";
import { makeTempDir, stopChild } from "./harness/children.js";
import { runBenchmark } from "./harness/lifecycle.js";
import { mib } from "./harness/memory.js";
import { serviceEnv, startServiceChild } from "./harness/service.js";
import { MiB, positiveInt, secondsSince } from "./harness/settings.js";
import { maxOf, minOf } from "./harness/stats.js";
import { printTable } from "./harness/table.js";
import { generateFile, multipartBody, sizeLabel } from "./upload/multipart.js";
import { removeFilesUnder, startBaseline, uploadPair, uploadToBaseline, warmUp, type RunResult } from "./upload/runs.js";

const RUNS = positiveInt(process.env.BENCH_RUNS, 2);
const LARGE_BYTES = positiveInt(process.env.BENCH_LARGE_MIB, 1024) * MiB;
const SMALL_BYTES = positiveInt(process.env.BENCH_SMALL_MIB, 100) * MiB;

const THROUGHPUT_TARGET = 0.7; // service / baseline, at least
const RSS_RATIO_TARGET = 1.1; // peak RSS 1 GiB / peak RSS 100 MiB, at most

const best = (runs: RunResult[]) => maxOf(runs, (r) => r.mibPerSecond);
const peakOf = (runs: RunResult[]) => maxOf(runs, (r) => r.mem?.peakKiB ?? 0);
const deltaOf = (runs: RunResult[]) => maxOf(runs, (r) => (r.mem ? r.mem.peakKiB - r.mem.idleKiB : 0));
const minCpu = (runs: RunResult[]) => minOf(runs, (r) => r.cpuSeconds);
const verdict = (ok: boolean) => (ok ? "target met" : "target missed");

async function main(): Promise<void> {
  const started = performance.now();
  const root = makeTempDir("media-bench-");
  console.log(`upload benchmark: ${sizeLabel(LARGE_BYTES)} and ${sizeLabel(SMALL_BYTES)}, ${RUNS} run(s) each, temp dir ${root}`);

  // The files first, so the service does not boot while this process is busy writing them: in
  // trials, services started meanwhile more often ran every 1 GiB upload with ~35-40 full GCs
  // (about 1.5 s more CPU, ~30% less throughput) instead of none. The "full GCs" line shows it.
  const filesDir = path.join(root, "files");
  await fsp.mkdir(filesDir);
  const t = performance.now();
  const largeFile = generateFile(path.join(filesDir, "large.pdf"), LARGE_BYTES);
  const smallFile = generateFile(path.join(filesDir, "small.pdf"), SMALL_BYTES);
  console.log(`generated test files in ${secondsSince(t).toFixed(1)} s (written and fsynced)`);

  const baseline = await startBaseline(root);
  const dataDir = path.join(root, "service");
  await fsp.mkdir(dataDir);
  const env = serviceEnv(dataDir, undefined, { MAX_SIZE_DOCUMENT: String(Math.max(LARGE_BYTES, SMALL_BYTES) * 4) });
  const service = await startServiceChild("service", ["--trace-gc", "--import", "tsx", "src/main.ts"], env);
  console.log(`service ready in ${service.startupSeconds.toFixed(1)} s (pid ${service.child.pid}); baseline pid ${baseline.child.pid}`);

  const largeBody = multipartBody(largeFile, "bench-large.pdf");
  const smallBody = multipartBody(smallFile, "bench-small.pdf");

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

  const throughputRatio = best(servLarge) / best(baselineLarge);
  const peakLarge = peakOf(servLarge);
  const peakSmall = peakOf(servSmall);
  const rssRatio = peakLarge / peakSmall;
  const allReset = [...servLarge, ...servSmall].every((r) => r.mem?.hwmReset);

  console.log(`\nVmHWM reset check: ${allReset ? "ok for every upload" : "NOT verified for some uploads (polled VmRSS used there)"}`);
  if (warm.resetNote) console.log(`  first reset, on the fresh process: ${warm.resetNote}`);

  const large = sizeLabel(LARGE_BYTES);
  const small = sizeLabel(SMALL_BYTES);
  printTable(
    ["metric", "value", "target", "result"],
    [
      [`baseline throughput, ${large} (best of ${RUNS})`, `${best(baselineLarge).toFixed(0)} MiB/s`, "", ""],
      [`service throughput, ${large} (best of ${RUNS})`, `${best(servLarge).toFixed(0)} MiB/s`, "", ""],
      ["service / baseline", throughputRatio.toFixed(2), `>= ${THROUGHPUT_TARGET}`, verdict(throughputRatio >= THROUGHPUT_TARGET)],
      [`server CPU per ${large} upload (info)`, `${minCpu(baselineLarge).toFixed(1)} s baseline / ${minCpu(servLarge).toFixed(1)} s service`, "", ""],
      [`service full GCs per ${large} upload (info)`, servLarge.map((r) => r.gcs?.major ?? 0).join(", "), "", ""],
      [`baseline throughput, ${small} (info)`, `${best(baselineSmall).toFixed(0)} MiB/s`, "", ""],
      [`service throughput, ${small} (info)`, `${best(servSmall).toFixed(0)} MiB/s`, "", ""],
      [`service peak RSS, ${large} upload`, `${mib(peakLarge)} (+${mib(deltaOf(servLarge))})`, "", ""],
      [`service peak RSS, ${small} upload`, `${mib(peakSmall)} (+${mib(deltaOf(servSmall))})`, "", ""],
      [`peak RSS ${large} / ${small}`, rssRatio.toFixed(2), `<= ${RSS_RATIO_TARGET}`, verdict(rssRatio <= RSS_RATIO_TARGET)],
    ],
  );
  console.log("(+N = peak minus the service's RSS just before the upload)");
  console.log(`\ntotal runtime ${secondsSince(started).toFixed(1)} s`);
}

runBenchmark("bench:upload", main, { timeoutMs: 8 * 60_000 });
