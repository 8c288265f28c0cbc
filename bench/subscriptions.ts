/**
 * Subscriptions benchmark: live events from a worker process to many WebSocket subscribers.
 *
 * One service (`node lib/main.js`, compiled by `npm run build` when the bench starts; NODE_ENV=
 * production, PostgreSQL in a database created for the run, no job workers of its own) gets
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
 *    until every subscriber has heard every version READY, divided by the events delivered
 *    (counted per subscriber) / 1,000.
 *
 * Targets: p95 < 100 ms; < 50 MiB per 1,000 idle subscriptions. Latency is wall time: on a
 * machine busy with other work it grows with the load, which is printed beside it. Prints the
 * figures and a summary table; exits 0 whether or not the targets are met, 1 when something
 * fails (a process did not start, an upload was refused, a subscription failed or an event had
 * no changedAt). Child processes, temp dirs and the database are removed on every exit path.
 *
 * Run: npm run bench:subscriptions
 * (optional env: BENCH_SUBSCRIBERS=1000, BENCH_VIDEOS=3, BENCH_VIDEO_SECONDS=8,
 *  BENCH_POSTGRES_URL (default TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/postgres),
 *  BENCH_SERVICE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_DEBUG=1 (latency by event kind),
 *  FFMPEG_PATH (default ffmpeg))
 */
import os from "node:os";
import path from "node:path";
import { failureReport, makeTempDir, stopChild, type Child } from "./harness/children.js";
import { readCpuMs } from "./harness/cpu.js";
import { runBenchmark } from "./harness/lifecycle.js";
import { mib, settledRss } from "./harness/memory.js";
import { createDatabase, postgresVersion } from "./harness/postgres.js";
import { buildService, type ServiceChild } from "./harness/service.js";
import { positiveInt, secondsSince, sleep } from "./harness/settings.js";
import { percentile } from "./harness/stats.js";
import { printTable } from "./harness/table.js";
import { makeClip, uploadClip } from "./subscriptions/clips.js";
import { startService, startWorker } from "./subscriptions/service.js";
import { connectSubscribers, type Received, type Subscribers } from "./subscriptions/subscribers.js";

const SUBSCRIBERS = positiveInt(process.env.BENCH_SUBSCRIBERS, 1000);
const VIDEOS = positiveInt(process.env.BENCH_VIDEOS, 3);
const VIDEO_SECONDS = positiveInt(process.env.BENCH_VIDEO_SECONDS, 8);
const FFMPEG_PATH = process.env.FFMPEG_PATH ?? "ffmpeg";

const P95_TARGET_MS = 100; // less than
const RSS_TARGET_MIB = 50; // per 1,000 idle subscriptions, less than
/** How long the worker may take over every clip before the run fails. */
const TRANSCODE_TIMEOUT_MS = 10 * 60_000;
/** The service's RSS is settled when five samples 250 ms apart agree; this long at most. */
const SETTLE_MAX_MS = 15_000;

const met = (ok: boolean) => (ok ? "yes" : "no");
const load = () => `${os.loadavg().map((l) => l.toFixed(1)).join(" ")} on ${os.cpus().length} cores`;

/** Waits until every subscriber has heard of every clip's versions READY; fails on a subscription error or a dead worker. */
async function untilAllReady(subscribers: Subscribers, worker: Child): Promise<void> {
  const deadline = Date.now() + TRANSCODE_TIMEOUT_MS;
  const ready = () => subscribers.received.filter((r) => r.done).length;
  while (ready() < SUBSCRIBERS * VIDEOS) {
    if (subscribers.failure) throw subscribers.failure;
    if (worker.hasExited()) throw new Error(`the worker exited\n${failureReport(worker)}`);
    if (Date.now() > deadline) throw new Error(`timed out: ${ready()} READY events of ${SUBSCRIBERS * VIDEOS}\n${failureReport(worker)}`);
    await sleep(100);
  }
  if (subscribers.failure) throw subscribers.failure;
}

/** p50 and max of each event kind ("UPDATED READY/PROCESSING" ...), in the order first seen. */
function printByKind(received: Received[]): void {
  const byKind = new Map<string, number[]>();
  for (const r of received) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r.latencyMs]);
  for (const [kind, values] of byKind) {
    values.sort((a, b) => a - b);
    console.log(`  ${kind}: ${values.length} events, p50 ${percentile(values, 50)} ms, max ${values.at(-1)} ms`);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const root = makeTempDir("bench-subscriptions-");
  console.log(
    `subscriptions benchmark: ${SUBSCRIBERS} subscribers, ${VIDEOS} clip(s) of ${VIDEO_SECONDS} s; ` +
      `Node ${process.version}, PostgreSQL ${await postgresVersion()}, load average ${load()}; temp dir ${root}`,
  );
  buildService();
  const clips = await Promise.all(
    Array.from({ length: VIDEOS }, async (_, i) => {
      const file = path.join(root, `clip-${i}.mp4`);
      await makeClip(FFMPEG_PATH, file, VIDEO_SECONDS, i);
      return file;
    }),
  );

  const database = await createDatabase("bench_subscriptions");
  let service: ServiceChild | undefined;
  let worker: Child | undefined;
  let subscribers: Subscribers | undefined;
  try {
    service = await startService(root, database.url);
    const pid = service.child.pid;
    console.log(`service ready in ${service.startupSeconds.toFixed(1)} s (pid ${pid}), ${service.url}`);
    const idleKiB = await settledRss(pid, SETTLE_MAX_MS);

    subscribers = await connectSubscribers(service.url, SUBSCRIBERS);
    const subscribedKiB = await settledRss(pid, SETTLE_MAX_MS);
    const perThousandMiB = ((subscribedKiB - idleKiB) * 1000) / SUBSCRIBERS / 1024;
    console.log(`${subscribers.count} subscribers: service RSS ${mib(idleKiB)} -> ${mib(subscribedKiB)} (${perThousandMiB.toFixed(1)} MiB per 1,000)`);

    const cpuBefore = readCpuMs(pid);
    const transcodeStarted = performance.now();
    for (const clip of clips) await uploadClip(service.url, clip);
    worker = await startWorker(root, database.url);
    await untilAllReady(subscribers, worker);
    const cpuMs = readCpuMs(pid) - cpuBefore;
    const seconds = secondsSince(transcodeStarted);

    const received = subscribers.received;
    const latencies = received.map((r) => r.latencyMs).sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    const cpuPerThousand = (cpuMs * 1000) / received.length;
    console.log(
      `${VIDEOS} clip(s) transcoded by the worker in ${seconds.toFixed(1)} s; ` +
        `${received.length} events delivered (${(received.length / SUBSCRIBERS).toFixed(1)} per subscriber)`,
    );
    console.log(`latency from the worker's write: p50 ${p50} ms, p95 ${p95} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms`);
    if (process.env.BENCH_DEBUG) printByKind(received);
    console.log(`load average ${load()} (latency is wall time: it grows with the machine's load)`);
    console.log(`service CPU ${cpuMs.toFixed(0)} ms: ${cpuPerThousand.toFixed(1)} ms per 1,000 events`);

    printTable(
      ["metric", "value", "target", "met"],
      [
        ["delivery latency p50 (ms)", String(p50), "", ""],
        ["delivery latency p95 (ms)", String(p95), `< ${P95_TARGET_MS}`, met(p95 < P95_TARGET_MS)],
        ["RSS per 1,000 idle subscriptions (MiB)", perThousandMiB.toFixed(1), `< ${RSS_TARGET_MIB}`, met(perThousandMiB < RSS_TARGET_MIB)],
        ["service CPU per 1,000 events (ms)", cpuPerThousand.toFixed(1), "", ""],
      ],
    );
    console.log(`\ntotal runtime ${secondsSince(started).toFixed(1)} s`);
  } finally {
    await subscribers?.dispose();
    if (worker) await stopChild(worker, 5000);
    if (service) await stopChild(service.child, 5000);
    await database.drop();
  }
}

runBenchmark("bench:subscriptions", main, { timeoutMs: 15 * 60_000 });
