import fsp from "node:fs/promises";
import path from "node:path";
import type { Config } from "../../src/config.js";
import { failureReport, waitForLine } from "../harness/children.js";
import { byThread, readCpuMs, readThreadCpuMs, threadCpuSince } from "../harness/cpu.js";
import type { ServiceChild } from "../harness/service.js";
import { secondsSince, sleep } from "../harness/settings.js";
import { maxOf, minOf } from "../harness/stats.js";
import type { SharpRecipe, SharpSpec } from "./bare-sharp.js";
import { askVersion, fetchMedia, uploadFiles } from "./client.js";
import { sha256, startSharp } from "./media.js";
import { IMAGE_ROUNDS, IMAGE_SIZE, IMAGES, READY_TIMEOUT_MS, SETTLE_MS, THUMB_TARGET, verdict, WARMUP_IMAGES, type Report, type Setup } from "./settings.js";

/** (a) Thumbnails on demand through the service against raw sharp on the same files at the same concurrency. */

interface ThumbRun {
  seconds: number;
  perSecond: number;
  /** CPU time of the whole process (every thread) per image, ms. */
  cpuPerImage: number;
  /** The service's: of it, its JavaScript thread's. */
  mainPerImage?: number;
  /** Per image and thread name ("exited" for threads gone by the end). */
  threadsPerImage?: Map<string, number>;
}

/** C clients: version(preset: "thumb") then GET, image after image, until every byte is in. */
async function serviceThumbs(service: ServiceChild, ids: string[], concurrency: number): Promise<ThumbRun & { bodies: Buffer[]; waits: number }> {
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
  const secs = secondsSince(started);
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

async function rawThumbs(setup: Setup, files: string[], warmups: string[], round: number): Promise<ThumbRun & { outputs: string[] }> {
  const { root, config, concurrency } = setup;
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
  const child = await startSharp(`raw sharp thumbs #${round}`, root, spec);
  const match = await waitForLine(child, /^RESULT (.*)$/, READY_TIMEOUT_MS);
  const code = await child.exited;
  if (code !== 0) throw new Error(`raw sharp exited with ${code}\n${failureReport(child)}`);
  const result = JSON.parse(match[1]!) as { seconds: number; cpuMs: number; threads: Record<string, number> };
  const threadsPerImage = new Map(Object.entries(result.threads).map(([name, ms]) => [name, ms / files.length]));
  return { seconds: result.seconds, perSecond: files.length / result.seconds, cpuPerImage: result.cpuMs / files.length, threadsPerImage, outputs };
}

export async function partThumbs(setup: Setup, service: ServiceChild, database: string, files: { thumbs: string[]; warm: string[] }, report: Report): Promise<void> {
  const { config, concurrency } = setup;
  const t = performance.now();
  const warmShelves = await uploadFiles(service.url, files.warm);
  const roundShelves: string[][] = [];
  for (let r = 0; r < IMAGE_ROUNDS; r++) roundShelves.push((await uploadFiles(service.url, files.thumbs)).map((s) => s.id));
  const recipe = thumbRecipe(config);
  console.log(`\n(a) thumb (${recipe.width}x${recipe.height} ${recipe.fit}, webp q${recipe.quality}) of ${IMAGES} JPEGs ${IMAGE_SIZE.label}, ${concurrency} at a time, service on ${database} (${IMAGES * IMAGE_ROUNDS + WARMUP_IMAGES} uploaded in ${secondsSince(t).toFixed(1)} s)`);
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
      raw = await rawThumbs(setup, files.thumbs, files.warm, r + 1);
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
  const bestService = maxOf(serviceRuns, (r) => r.perSecond);
  const bestRaw = maxOf(rawRuns, (r) => r.perSecond);
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
  const leastCpu = (runs: ThumbRun[]) => minOf(runs, (r) => r.cpuPerImage);
  const leastMain = minOf(serviceRuns, (r) => r.mainPerImage!);
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
