/**
 * Subscriptions benchmark: live events from a worker process to many WebSocket subscribers.
 *
 * One service (`node lib/main.js`, compiled by `npm run build` when the bench starts; NODE_ENV=
 * production, PostgreSQL in a database created for the run, no workers of its own) gets
 * BENCH_SUBSCRIBERS (1000) graphql-ws connections from this process, each subscribed to
 * `libraryUpdated { change shelfId shelf { id files { preset status progress } } }`.
 *
 *  - RSS per 1,000 idle subscriptions: the service's settled RSS with the subscribers connected
 *    and subscribed, minus its settled RSS before they connected, scaled to 1,000.
 *  - Then BENCH_VIDEOS (3) clips of BENCH_VIDEO_SECONDS (8) s (640x480 H.264 + AAC, made with
 *    ffmpeg's lavfi sources) are uploaded and `npm run worker` (`node lib/worker.js`, another
 *    process, two ffmpeg at a time) makes their mp4-720p versions. Every event each subscriber
 *    receives is timed from the worker's write (`extensions.changedAt`, the writing
 *    transaction's start as PostgreSQL's triggers announce it) to its receipt here: p50 / p95.
 *  - CPU per 1,000 events: the service's CPU time (/proc, user + system) from the first upload
 *    until every version is READY, divided by the events delivered (per subscriber) / 1,000.
 *
 * Targets: p95 < 100 ms; < 50 MiB per 1,000 idle subscribers. Prints the figures and a summary
 * table; exits 0 whether or not the targets are met, 1 when something fails. Child processes,
 * temp dirs and the database are removed on every exit path.
 *
 * Run: npm run bench:subscriptions
 * (optional env: BENCH_SUBSCRIBERS=1000, BENCH_VIDEOS=3, BENCH_VIDEO_SECONDS=8,
 *  BENCH_POSTGRES_URL (default TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/postgres),
 *  BENCH_SERVICE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_DEBUG=1 (latency by event kind))
 */
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient, type Client } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { cleanupSync, mib, positiveInt, readCpuMs, readMem, startChild, stopChild, tempDirs, type Child } from "./children.js";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const SUBSCRIBERS = positiveInt(process.env.BENCH_SUBSCRIBERS, 1000);
const VIDEOS = positiveInt(process.env.BENCH_VIDEOS, 3);
const VIDEO_SECONDS = positiveInt(process.env.BENCH_VIDEO_SECONDS, 8);
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SUBSCRIPTION = `subscription { libraryUpdated { change shelfId shelf { id files { preset status progress } } } }`;

interface Received {
  latencyMs: number;
  done: boolean;
  kind: string;
}

function serviceEnv(dataDir: string, databaseUrl: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (/^(DATABASE_URL|AUTH_.*|MEDIA_.*|STORAGE.*|S3_.*|BENCH_.*|JOBS_.*|HOST|PORT|DATA_DIR|NODE_ENV)$/.test(key)) delete env[key];
  return {
    ...env,
    NODE_ENV: "production",
    MALLOC_ARENA_MAX: "2",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    MEDIA_ROOT: path.join(path.dirname(dataDir), "media"),
    // The one version each clip gets; no poster frames.
    MEDIA_PRESETS: JSON.stringify({ IMAGE: { thumb: { eager: false } } }),
    VIDEO_POSTER_POSITIONS: "",
    ...extra,
  };
}

function waitForLine(child: Child, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = setInterval(() => {
      for (const line of child.output) {
        const match = pattern.exec(line);
        if (match) {
          clearInterval(poll);
          return resolve(match);
        }
      }
      if (child.hasExited() || Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error(`${child.name} did not print ${pattern}:\n${child.output.join("\n")}`));
      }
    }, 50);
  });
}

/** RSS once five samples 250 ms apart agree within 2 MiB (or after 15 s). */
async function settledRss(pid: number): Promise<number> {
  const samples: number[] = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    samples.push(readMem(pid).rssKiB);
    const recent = samples.slice(-5);
    if ((recent.length === 5 && Math.max(...recent) - Math.min(...recent) < 2048) || Date.now() > deadline) return samples.at(-1)!;
    await sleep(250);
  }
}

async function makeClip(file: string, seed: number): Promise<void> {
  await run(process.env.FFMPEG_PATH ?? "ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", `testsrc=duration=${VIDEO_SECONDS}:size=640x480:rate=25`,
    "-f", "lavfi", "-i", `sine=frequency=${220 + seed * 10}:duration=${VIDEO_SECONDS}`,
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", file,
  ]);
}

async function upload(base: string, file: string): Promise<string> {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query: "mutation ($file: Upload!) { uploadShelf(input: { file: $file }) { id } }", variables: { file: null } }));
  form.append("map", JSON.stringify({ 0: ["variables.file"] }));
  form.append("0", new Blob([await fsp.readFile(file)]), path.basename(file));
  const res = await fetch(`${base}/graphql`, { method: "POST", headers: { "apollo-require-preflight": "true" }, body: form });
  const body = (await res.json()) as { data?: { uploadShelf: { id: string } }; errors?: unknown };
  if (!body.data) throw new Error(`upload failed: ${JSON.stringify(body.errors)}`);
  return body.data.uploadShelf.id;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "bench-subscriptions-"));
  tempDirs.push(root);
  console.log("building lib/ ...");
  await run("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT });

  const dbName = `bench_subscriptions_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const databaseUrl = dbUrl.toString();
  const clients: Client[] = [];
  let service: Child | undefined;
  let worker: Child | undefined;
  try {
    const clips = await Promise.all(Array.from({ length: VIDEOS }, async (_, i) => {
      const file = path.join(root, `clip-${i}.mp4`);
      await makeClip(file, i);
      return file;
    }));

    service = startChild(
      "service",
      [...(process.env.BENCH_SERVICE_NODE_ARGS?.split(" ").filter(Boolean) ?? []), "lib/main.js"],
      serviceEnv(path.join(root, "service"), databaseUrl, { JOBS_IMAGE_CONCURRENCY: "0", JOBS_AV_CONCURRENCY: "0", WS_CONNECTIONS_PER_MINUTE: "1000000" }),
      REPO_ROOT,
    );
    const base = (await waitForLine(service, /listening on (http:\/\/\S+)\/graphql/))[1]!;
    const idleRss = await settledRss(service.pid);

    // Subscribers: every event each one receives, timed from the worker's write.
    const received: Received[] = [];
    let subscribed = 0;
    const connectOne = () =>
      new Promise<void>((resolve, reject) => {
        const client = createClient({ url: `${base.replace("http", "ws")}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: reject, on: { connected: () => resolve() } });
        clients.push(client);
        client.subscribe(
          { query: SUBSCRIPTION },
          {
            next: (result) => {
              const changedAt = Date.parse(String((result.extensions as { changedAt?: string } | undefined)?.changedAt));
              const files = (result.data as { libraryUpdated: { shelf?: { files: Array<{ status: string }> } } }).libraryUpdated.shelf?.files ?? [];
              const update = (result.data as { libraryUpdated: { change: string } }).libraryUpdated;
              const kind = `${update.change} ${files.map((f) => f.status).join("/")}`;
              received.push({ latencyMs: Date.now() - changedAt, done: files.length > 1 && files.every((f) => f.status === "READY"), kind });
            },
            error: (err) => console.error("subscription error", err),
            complete: () => {},
          },
        );
        subscribed++;
      });
    for (let i = 0; i < SUBSCRIBERS; i += 100) await Promise.all(Array.from({ length: Math.min(100, SUBSCRIBERS - i) }, connectOne));
    const subscribedRss = await settledRss(service.pid);
    const perThousandKiB = ((subscribedRss - idleRss) * 1000) / SUBSCRIBERS;
    console.log(`${subscribed} subscribers: service RSS ${mib(idleRss)} -> ${mib(subscribedRss)} (${mib(perThousandKiB)} per 1,000)`);

    const cpuBefore = readCpuMs(service.pid);
    const started = performance.now();
    const ids = [];
    for (const clip of clips) ids.push(await upload(base, clip));
    worker = startChild("worker", ["lib/worker.js"], serviceEnv(path.join(root, "worker"), databaseUrl, { JOBS_AV_CONCURRENCY: "2", JOBS_POLL_MS: "200" }), REPO_ROOT);
    // Done when every subscriber has heard of every clip's version READY.
    const deadline = Date.now() + 10 * 60_000;
    while (received.filter((r) => r.done).length < SUBSCRIBERS * VIDEOS) {
      if (Date.now() > deadline) throw new Error(`timed out: ${received.filter((r) => r.done).length} READY events of ${SUBSCRIBERS * VIDEOS}\n${worker.output.join("\n")}`);
      if (worker.hasExited()) throw new Error(`the worker exited:\n${worker.output.join("\n")}`);
      await sleep(100);
    }
    const cpuMs = readCpuMs(service.pid) - cpuBefore;
    const seconds = (performance.now() - started) / 1000;

    const latencies = received.map((r) => r.latencyMs).sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    const cpuPerThousand = (cpuMs * 1000) / received.length;
    console.log(`${VIDEOS} clips transcoded by the worker in ${seconds.toFixed(1)} s; ${received.length} events delivered (${(received.length / SUBSCRIBERS).toFixed(1)} per subscriber)`);
    console.log(`latency from the worker's write: p50 ${p50} ms, p95 ${p95} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms`);
    if (process.env.BENCH_DEBUG) {
      const byKind = new Map<string, number[]>();
      for (const r of received) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r.latencyMs]);
      for (const [kind, values] of byKind) console.log(kind, values.length, "p50", percentile(values.sort((a, b) => a - b), 50), "max", values.at(-1));
    }
    // Latency is wall time: on a machine shared with other work it grows with the load.
    console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} on ${os.cpus().length} cores`);
    console.log(`service CPU ${cpuMs.toFixed(0)} ms: ${cpuPerThousand.toFixed(1)} ms per 1,000 events`);
    console.log("");
    console.table([
      { metric: "delivery latency p50 (ms)", value: p50, target: "", met: "" },
      { metric: "delivery latency p95 (ms)", value: p95, target: "< 100", met: p95 < 100 ? "yes" : "no" },
      { metric: "RSS per 1,000 idle subscriptions (MiB)", value: Number((perThousandKiB / 1024).toFixed(1)), target: "< 50", met: perThousandKiB / 1024 < 50 ? "yes" : "no" },
      { metric: "service CPU per 1,000 events (ms)", value: Number(cpuPerThousand.toFixed(1)), target: "", met: "" },
    ]);
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    if (worker) await stopChild(worker, 5000);
    if (service) await stopChild(service, 5000);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

process.once("exit", cleanupSync);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
