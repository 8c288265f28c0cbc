import fsp from "node:fs/promises";
import path from "node:path";
import { serviceEnv, startServiceChild, type ServiceChild } from "../harness/service.js";

/** The service under test: lib/main.js as `npm start` runs it, making only what the benchmark asks for. */

/** Extra node flags for the service, e.g. BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
const SERVICE_NODE_ARGS = (process.env.BENCH_SERVICE_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
/** No eager versions and no poster frames: only what the bench asks for is made. */
const LAZY_PRESETS = JSON.stringify({ IMAGE: { thumb: { eager: false } }, VIDEO: { "mp4-720p": { eager: false } } });

/** The service's environment: defaults, lazy presets, the bench's own data dir and database. */
export function versionsServiceEnv(dataDir: string, databaseUrl?: string): NodeJS.ProcessEnv {
  return serviceEnv(dataDir, databaseUrl, {
    // As `npm start` runs it: glibc's allocator kept to two arenas (sharp's advice for its threads).
    MALLOC_ARENA_MAX: "2",
    MEDIA_PRESETS: LAZY_PRESETS,
    VIDEO_POSTER_POSITIONS: "",
  });
}

export async function startService(label: string, root: string, databaseUrl?: string, reuseDataDir?: string): Promise<ServiceChild> {
  const dataDir = reuseDataDir ?? (await fsp.mkdtemp(path.join(root, `${label.replace(/\W+/g, "-")}-`)));
  return startServiceChild(label, [...SERVICE_NODE_ARGS, "lib/main.js"], versionsServiceEnv(dataDir, databaseUrl));
}
