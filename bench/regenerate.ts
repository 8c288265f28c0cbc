/**
 * Does `npm run media -- regenerate` keep flat memory however many shelves it walks?
 *
 * On a PostgreSQL database of its own, records N image shelves that already have a current
 * `thumb` version (rows only: no bytes are needed to walk them), runs
 * `regenerate --only-missing --preset thumb` over them as the operator would, and samples the
 * command's RSS. It does this for a small and a large N and prints the peak RSS of each and their
 * ratio (flat memory: about 1), and the walking rate.
 *
 * Run: npm run bench:regenerate   (optional env: BENCH_SMALL_SHELVES=10000, BENCH_LARGE_SHELVES=100000)
 */
import pg from "pg";
import { recipeDigest, resolvePresets } from "../src/transcode/presets.js";
import { makeTempDir, startChild } from "./harness/children.js";
import { runBenchmark } from "./harness/lifecycle.js";
import { pollPeakRss } from "./harness/memory.js";
import { createDatabase } from "./harness/postgres.js";
import { positiveInt } from "./harness/settings.js";

const SMALL = positiveInt(process.env.BENCH_SMALL_SHELVES, 10_000);
const LARGE = positiveInt(process.env.BENCH_LARGE_SHELVES, 100_000);
const RSS_POLL_MS = 50;

interface Run {
  peakMiB: number;
  seconds: number;
}

/** Runs the media command with `args`, sampling its RSS; returns the peak and the time. */
async function runCommand(args: string[], env: NodeJS.ProcessEnv): Promise<Run & { output: string[] }> {
  const started = Date.now();
  const child = startChild(`media ${args.join(" ")}`, ["--import", "tsx", "src/cli/media.ts", ...args], env);
  const poll = pollPeakRss(child.pid, RSS_POLL_MS);
  const code = await child.exited;
  const peakKiB = poll.stop();
  if (code !== 0) throw new Error(`media ${args.join(" ")} exited with ${code}:\n${child.output.join("\n")}`);
  return { peakMiB: peakKiB / 1024, seconds: (Date.now() - started) / 1000, output: child.output };
}

/** `shelves` image shelves, each with its original and a current `thumb` row. */
async function seed(url: string, shelves: number): Promise<void> {
  const digest = recipeDigest(resolvePresets().get("IMAGE", "thumb")!.recipe);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      INSERT INTO "Shelf" ("id", "ownerId", "kind", "title", "updatedAt")
      SELECT gen_random_uuid(), 'bench', 'IMAGE', 'shelf ' || i, now() FROM generate_series(1, ${shelves}) AS i`);
    await client.query(`
      INSERT INTO "MediaFile" ("id", "shelfId", "variant", "role", "storage", "name", "size", "mimeType", "checksum", "status")
      SELECT gen_random_uuid(), "id", 'original', 'ORIGINAL', 'default', 'image/' || "id" || '.jpg', 1, 'image/jpeg', '', 'READY' FROM "Shelf"`);
    await client.query(`
      INSERT INTO "MediaFile" ("id", "shelfId", "variant", "role", "preset", "storage", "name", "size", "mimeType", "checksum", "status", "recipe")
      SELECT gen_random_uuid(), "id", 'thumb', 'VERSION', 'thumb', 'default', 'versions/' || "id" || '/thumb.webp', 1, 'image/webp', '', 'READY', '${digest}' FROM "Shelf"`);
  } finally {
    await client.end();
  }
}

async function measure(shelves: number): Promise<Run> {
  const database = await createDatabase("media_bench_regen");
  const dataDir = makeTempDir("bench-regen-");
  const env = { ...process.env, NODE_ENV: "production", DATABASE_URL: database.url, DATA_DIR: dataDir, MEDIA_PRESETS: "", VIDEO_POSTER_POSITIONS: "" };
  try {
    await runCommand(["migrate"], env);
    await seed(database.url, shelves);
    const result = await runCommand(["regenerate", "--only-missing", "--preset", "thumb"], env);
    const summary = result.output.find((l) => l.startsWith("regenerated"));
    if (!summary?.includes(`of ${shelves} shelf(s)`)) throw new Error(`unexpected output: ${result.output.join("\n")}`);
    return result;
  } finally {
    await database.drop();
  }
}

async function main(): Promise<void> {
  const small = await measure(SMALL);
  const large = await measure(LARGE);
  const row = (n: number, r: Run) =>
    `${String(n).padStart(8)} shelves  peak RSS ${r.peakMiB.toFixed(1).padStart(7)} MiB  ${r.seconds.toFixed(1).padStart(6)} s  ${Math.round(n / r.seconds)} shelves/s`;
  console.log("regenerate --only-missing over shelves that already have their versions (PostgreSQL):");
  console.log(row(SMALL, small));
  console.log(row(LARGE, large));
  console.log(`peak RSS ratio ${LARGE} / ${SMALL} shelves: ${(large.peakMiB / small.peakMiB).toFixed(2)} (flat memory: about 1)`);
}

runBenchmark("bench:regenerate", main, { timeoutMs: 60 * 60_000 });
