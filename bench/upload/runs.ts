import fsp from "node:fs/promises";
import path from "node:path";
import { failureReport, startScript, waitForLine, type Child } from "../harness/children.js";
import { readCpuTimes } from "../harness/cpu.js";
import { mib, readMem, settledRss, watchMemory, type MemWindow } from "../harness/memory.js";
import type { ServiceChild } from "../harness/service.js";
import { MiB, sleep } from "../harness/settings.js";
import { postMultipart, sizeLabel, type MultipartBody, type PostResult } from "./multipart.js";

/** One upload to each side, timed and checked, and what it costs the server process. */

const POLL_MS = 50;
/** Pause after each upload (and the removal of what it stored) before the next one starts. */
const SETTLE_MS = 300;
const READY_TIMEOUT_MS = 90_000;

export interface Baseline {
  child: Child;
  port: number;
  dir: string;
}

export async function startBaseline(root: string): Promise<Baseline> {
  const dir = path.join(root, "baseline");
  await fsp.mkdir(dir);
  const child = startScript("baseline server", path.join(import.meta.dirname, "baseline-server.ts"), { ...process.env, BENCH_DIR: dir });
  const match = await waitForLine(child, /^BASELINE_PORT=(\d+)$/, READY_TIMEOUT_MS);
  return { child, port: Number(match[1]), dir };
}

export interface RunResult {
  seconds: number;
  mibPerSecond: number;
  /** Full (major) and young-generation GCs of the service during the upload. */
  gcs?: { major: number; minor: number };
  /** CPU seconds the server process used for this upload, user + system. */
  cpuSeconds: number;
  cpuUserSeconds: number;
  mem?: MemWindow;
}

/** CPU seconds (user, and user + system) a process spends in `run`. */
async function withCpu<T>(pid: number, run: () => Promise<T>): Promise<{ result: T; user: number; total: number }> {
  const before = readCpuTimes(pid);
  const result = await run();
  const after = readCpuTimes(pid);
  const user = (after.userMs - before.userMs) / 1000;
  return { result, user, total: user + (after.systemMs - before.systemMs) / 1000 };
}

export async function uploadToBaseline(baseline: Baseline, body: MultipartBody): Promise<RunResult> {
  const { result: res, user, total } = await withCpu(baseline.child.pid, () => postMultipart(baseline.port, "/upload", body));
  if (res.status !== 200) throw new Error(`baseline answered ${res.status}: ${res.text.slice(0, 500)}`);
  const stored = (JSON.parse(res.text) as { bytes?: number }).bytes;
  if (stored !== body.length) throw new Error(`baseline stored ${stored} bytes, sent ${body.length}`);
  return { seconds: res.seconds, mibPerSecond: body.file.size / MiB / res.seconds, cpuSeconds: total, cpuUserSeconds: user };
}

/** The answer must be the shelf, its original exactly the file's size and sha256. */
function checkAnswer(service: ServiceChild, res: PostResult, body: MultipartBody): void {
  let parsed: { data?: { uploadShelf?: { original?: { size?: number; checksum?: string } } } | null; errors?: unknown };
  try {
    parsed = JSON.parse(res.text) as typeof parsed;
  } catch {
    throw new Error(`the service answered ${res.status} with non-JSON: ${res.text.slice(0, 500)}`);
  }
  const original = parsed.data?.uploadShelf?.original;
  if (res.status !== 200 || parsed.errors || !original) {
    throw new Error(`the service refused the upload (HTTP ${res.status}): ${res.text.slice(0, 1000)}\n${failureReport(service.child)}`);
  }
  if (original.size !== body.file.size) throw new Error(`uploadShelf.original.size is ${original.size}, the file has ${body.file.size} bytes`);
  if (original.checksum !== body.file.sha256) {
    throw new Error(`uploadShelf.original.checksum is ${original.checksum}, the file's sha256 is ${body.file.sha256}`);
  }
}

export async function uploadToService(service: ServiceChild, body: MultipartBody): Promise<RunResult> {
  const gcsBefore = { ...service.child.gcs };
  const watch = watchMemory(service.child.pid, POLL_MS);
  let measured: { result: PostResult; user: number; total: number };
  try {
    measured = await withCpu(service.child.pid, () => postMultipart(Number(new URL(service.url).port), "/graphql", body));
  } catch (err) {
    watch.finish();
    throw new Error(`upload to the service failed: ${(err as Error).message}\n${failureReport(service.child)}`);
  }
  const mem = watch.finish();
  await sleep(100); // let the GC trace lines written during the upload arrive through the pipe
  const gcs = { major: service.child.gcs.major - gcsBefore.major, minor: service.child.gcs.minor - gcsBefore.minor };
  const res = measured.result;
  checkAnswer(service, res, body);
  return { seconds: res.seconds, mibPerSecond: body.file.size / MiB / res.seconds, cpuSeconds: measured.total, cpuUserSeconds: measured.user, gcs, mem };
}

/** Every regular file under `dir` (directories stay). */
export async function removeFilesUnder(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  await Promise.all(entries.filter((e) => e.isFile()).map((e) => fsp.rm(path.join(e.parentPath, e.name), { force: true })));
}

function logRun(what: string, run: RunResult): void {
  const mem = run.mem
    ? `  peak RSS ${mib(run.mem.peakKiB)} (idle ${mib(run.mem.idleKiB)}, +${mib(run.mem.peakKiB - run.mem.idleKiB)}; polled max ${mib(run.mem.polledPeakKiB)}; ${run.mem.hwmReset ? "VmHWM reset ok" : "VmHWM reset NOT verified, polled"})`
    : "";
  const gc = run.gcs ? `  GCs ${run.gcs.major} full / ${run.gcs.minor} young` : "";
  const cpu = `cpu ${run.cpuSeconds.toFixed(2).padStart(5)} s (user ${run.cpuUserSeconds.toFixed(2)})${gc}`;
  console.log(`  ${what.padEnd(22)} ${run.seconds.toFixed(2).padStart(6)} s  ${run.mibPerSecond.toFixed(0).padStart(5)} MiB/s  ${cpu}${mem}`);
}

/**
 * One upload of `body` to each side, `serviceFirst` deciding the order. What an upload stored is
 * removed right after it, outside the timing: on the VM disk this was written on, writing got
 * markedly slower as written data accumulated (dd of 1 GiB with fsync: 0.5 s after a delete,
 * 2.8 s after four kept files), which would favour whichever side goes first. The service's
 * database keeps its rows; the service is thrown away afterwards anyway.
 */
export async function uploadPair(
  label: string,
  baseline: Baseline,
  service: ServiceChild,
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
export async function warmUp(service: ServiceChild, body: MultipartBody): Promise<{ summary: string; resetNote?: string }> {
  const before = readMem(service.child.pid).rssKiB;
  const run = await uploadToService(service, body);
  await removeFilesUnder(path.join(service.dataDir, "media"));
  const settled = await settledRss(service.child.pid, 8000);
  return {
    summary: `RSS ${mib(before)} after start-up, ${mib(settled)} after a warm-up upload of ${sizeLabel(body.file.size)}`,
    resetNote: run.mem?.resetNote,
  };
}
