/**
 * The versions benchmark's bare side for images: sharp with the service's options on the files of
 * the spec at BENCH_SPEC, in a Node process of its own. Prints READY (when it waits for SIGUSR2)
 * and RESULT <{seconds, cpuMs, threads} as JSON>.
 */
import fsp from "node:fs/promises";
import sharp from "sharp";
import { readThreadCpuMs, threadCpuSince } from "../harness/cpu.js";
import { runChildScript } from "../harness/lifecycle.js";
import { secondsSince } from "../harness/settings.js";

export interface SharpRecipe {
  width?: number;
  height?: number;
  fit: "cover" | "inside";
  quality: number;
}

export interface SharpSpec {
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

async function main(): Promise<void> {
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
  process.stdout.write(`RESULT ${JSON.stringify({ seconds: secondsSince(started), cpuMs, threads })}\n`);
  if (spec.waitForSignal) await new Promise((resolve) => process.once("SIGTERM", resolve));
  clearInterval(keepAlive);
}

runChildScript(main);
