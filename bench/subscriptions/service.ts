import fsp from "node:fs/promises";
import path from "node:path";
import { startChild, waitForLine, type Child } from "../harness/children.js";
import { serviceEnv, startServiceChild, type ServiceChild } from "../harness/service.js";

/**
 * The two processes under test, as `npm start` and `npm run worker` run them (lib/, compiled
 * first): the service, which makes no versions itself and holds the subscriptions, and a worker,
 * which makes them. Both use one database and one media directory.
 */

/** Extra node flags for the service, e.g. BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
const SERVICE_NODE_ARGS = (process.env.BENCH_SERVICE_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
const WORKER_READY_TIMEOUT_MS = 60_000;

/** The environment of either process: its own data dir under `root`, the media dir they share. */
async function env(root: string, role: string, databaseUrl: string, extra: Record<string, string>): Promise<NodeJS.ProcessEnv> {
  const dataDir = path.join(root, role);
  await fsp.mkdir(dataDir, { recursive: true });
  return serviceEnv(dataDir, databaseUrl, {
    // As `npm start` and `npm run worker` run them.
    MALLOC_ARENA_MAX: "2",
    MEDIA_ROOT: path.join(root, "media"),
    // The one version each clip gets (mp4-720p, eager); no poster frames.
    MEDIA_PRESETS: JSON.stringify({ IMAGE: { thumb: { eager: false } } }),
    VIDEO_POSTER_POSITIONS: "",
    ...extra,
  });
}

/** The service with no job workers of its own, open to as many WebSocket connections as the bench makes. */
export async function startService(root: string, databaseUrl: string): Promise<ServiceChild> {
  const extra = { JOBS_IMAGE_CONCURRENCY: "0", JOBS_AV_CONCURRENCY: "0", WS_CONNECTIONS_PER_MINUTE: "1000000" };
  return startServiceChild("service", [...SERVICE_NODE_ARGS, "lib/main.js"], await env(root, "service", databaseUrl, extra));
}

/** `npm run worker` with two ffmpeg at a time, polling for jobs every 200 ms; ready on its "worker running" line. */
export async function startWorker(root: string, databaseUrl: string): Promise<Child> {
  const extra = { JOBS_IMAGE_CONCURRENCY: "0", JOBS_AV_CONCURRENCY: "2", JOBS_POLL_MS: "200" };
  const worker = startChild("worker", ["lib/worker.js"], await env(root, "worker", databaseUrl, extra));
  await waitForLine(worker, /^worker running/, WORKER_READY_TIMEOUT_MS);
  return worker;
}
