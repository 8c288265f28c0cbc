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
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { recipeDigest, resolvePresets } from "../src/transcode/presets.js";
import { cleanupSync, positiveInt, startChild, tempDirs } from "./children.js";

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const REPO_ROOT = path.resolve(import.meta.dirname, "..");
const SMALL = positiveInt(process.env.BENCH_SMALL_SHELVES, 10_000);
const LARGE = positiveInt(process.env.BENCH_LARGE_SHELVES, 100_000);

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function rssMiB(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the media command with `args`, sampling its RSS every 50 ms; returns the peak and the time. */
async function runCommand(args: string[], env: NodeJS.ProcessEnv): Promise<{ peakMiB: number; seconds: number; output: string[] }> {
  const started = Date.now();
  const child = startChild(`media ${args.join(" ")}`, ["--import", "tsx", "src/cli/media.ts", ...args], env, REPO_ROOT);
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB(child.pid) ?? 0);
  }, 50);
  const code = await child.exited;
  clearInterval(timer);
  if (code !== 0) throw new Error(`media ${args.join(" ")} exited with ${code}:\n${child.output.join("\n")}`);
  return { peakMiB: peak, seconds: (Date.now() - started) / 1000, output: child.output };
}

async function measure(shelves: number): Promise<{ peakMiB: number; seconds: number }> {
  const name = `media_bench_regen_${process.pid}_${shelves}`;
  await admin(`DROP DATABASE IF EXISTS ${name}`);
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-regen-"));
  tempDirs.push(dataDir);
  const env = { ...process.env, NODE_ENV: "production", DATABASE_URL: url.toString(), DATA_DIR: dataDir, MEDIA_PRESETS: "", VIDEO_POSTER_POSITIONS: "" };
  try {
    await runCommand(["migrate"], env);
    const digest = recipeDigest(resolvePresets().get("IMAGE", "thumb")!.recipe);
    const client = new pg.Client({ connectionString: url.toString() });
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
    const result = await runCommand(["regenerate", "--only-missing", "--preset", "thumb"], env);
    const summary = result.output.find((l) => l.startsWith("regenerated"));
    if (!summary?.includes(`of ${shelves} shelf(s)`)) throw new Error(`unexpected output: ${result.output.join("\n")}`);
    return result;
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

process.on("exit", cleanupSync);
const small = await measure(SMALL);
const large = await measure(LARGE);
const row = (n: number, r: { peakMiB: number; seconds: number }) =>
  `${String(n).padStart(8)} shelves  peak RSS ${r.peakMiB.toFixed(1).padStart(7)} MiB  ${r.seconds.toFixed(1).padStart(6)} s  ${Math.round(n / r.seconds)} shelves/s`;
console.log("regenerate --only-missing over shelves that already have their versions (PostgreSQL):");
console.log(row(SMALL, small));
console.log(row(LARGE, large));
console.log(`peak RSS ratio ${LARGE} / ${SMALL} shelves: ${(large.peakMiB / small.peakMiB).toFixed(2)} (flat memory: about 1)`);
