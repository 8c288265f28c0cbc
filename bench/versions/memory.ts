import fsp from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import type { Config } from "../../src/config.js";
import { stopChild, waitForLine } from "../harness/children.js";
import { REQUEST_TIMEOUT_MS } from "../harness/graphql.js";
import { mib, settledRss, watchMemory, type MemWindow } from "../harness/memory.js";
import { secondsSince } from "../harness/settings.js";
import type { SharpSpec } from "./bare-sharp.js";
import { askTransform, fetchMedia, uploadFiles } from "./client.js";
import { sha256, startSharp } from "./media.js";
import { withPostgresDatabase } from "./postgres.js";
import { startService } from "./service.js";
import { RSS_POLL_MS, RSS_TARGET, TRANSFORM_WIDTHS, verdict, type Report, type Setup } from "./settings.js";

/** (d) Peak RSS during concurrent ad-hoc transforms of a large JPEG: the service against bare sharp. */

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
          const version = await askTransform(service.url, shelf!.id, { width, format: "WEBP" });
          return { id: version.id, ...(await fetchMedia(service.url, version.url)) };
        }),
      );
    } finally {
      mem = watch.finish();
    }
    const secs = secondsSince(started);
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
  const child = await startSharp("bare sharp transforms", root, spec);
  try {
    const settled = await settledRss(child.pid);
    const result = waitForLine(child, /^RESULT (.*)$/, REQUEST_TIMEOUT_MS);
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

export async function partMemory(setup: Setup, bigImage: string, report: Report): Promise<void> {
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
