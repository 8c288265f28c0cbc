import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { onCleanup } from "../harness/lifecycle.js";
import { percentile } from "../harness/stats.js";

/** Load for a fixed time at a fixed concurrency: HTTP clients in a worker thread, or calls in this one. */

const REQUEST_TIMEOUT_MS = 10_000;

interface PhaseResult {
  count: number;
  errors: number;
  elapsedMs: number;
  latencies: Float64Array;
  firstError?: string;
}

export interface Figures {
  rps: number;
  p50: number;
  p95: number;
  count: number;
  errors: number;
  firstError?: string;
}

export interface LoadSettings {
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
}

function figures(r: PhaseResult): Figures {
  const sorted = Float64Array.from(r.latencies).sort();
  return { rps: (r.count * 1000) / r.elapsedMs, p50: percentile(sorted, 50), p95: percentile(sorted, 95), count: r.count, errors: r.errors, firstError: r.firstError };
}

/**
 * HTTP clients in a worker thread (so their JavaScript does not share the service's event loop):
 * plain JavaScript (run with eval), node:http with a keep-alive agent of `concurrency` sockets,
 * each client sending its next request when the last one is read.
 */
const CLIENT_WORKER = `
const http = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
const { url, body, concurrency, warmupMs, durationMs, expectedBytes, timeoutMs } = workerData;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const payload = Buffer.from(body);
function once() {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent,
        headers: { "content-type": "application/json", "content-length": payload.length } },
      (res) => {
        let bytes = 0;
        res.on("data", (chunk) => { bytes += chunk.length; });
        res.on("end", () => resolve({ status: res.statusCode, bytes }));
        res.on("error", reject);
      });
    req.setTimeout(timeoutMs, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(payload);
  });
}
async function phase(ms) {
  const latencies = [];
  let count = 0, errors = 0, firstError;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await once();
        if (r.status !== 200 || r.bytes !== expectedBytes) {
          errors++;
          firstError ??= "status " + r.status + ", " + r.bytes + " bytes (expected " + expectedBytes + ")";
        }
      } catch (err) {
        errors++;
        firstError ??= String(err && err.message || err);
      }
      latencies.push(performance.now() - t0);
      count++;
    }
  }));
  return { count, errors, elapsedMs: performance.now() - start, latencies: Float64Array.from(latencies), firstError };
}
(async () => {
  await phase(warmupMs);
  const result = await phase(durationMs);
  agent.destroy();
  parentPort.postMessage(result, [result.latencies.buffer]);
})().catch((err) => parentPort.postMessage({ fatal: String(err && err.stack || err) }));
`;

/** POSTs `body` to `url`; every answer must be 200 and exactly `expectedBytes` long. */
export async function loadHttp(url: string, body: string, expectedBytes: number, load: LoadSettings): Promise<Figures> {
  const worker = new Worker(CLIENT_WORKER, {
    eval: true,
    workerData: {
      url,
      body,
      concurrency: load.concurrency,
      warmupMs: load.warmupSeconds * 1000,
      durationMs: load.seconds * 1000,
      expectedBytes,
      timeoutMs: REQUEST_TIMEOUT_MS,
    },
  });
  const stop = onCleanup("client worker", async () => {
    await worker.terminate();
  });
  try {
    const message = await new Promise<PhaseResult | { fatal: string }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`client worker exited with code ${code}`)));
    });
    if ("fatal" in message) throw new Error(`client worker failed: ${message.fatal}`);
    return figures(message);
  } finally {
    await stop();
  }
}

/** `concurrency` loops calling `op` in this thread (the DB floor). */
export async function loadInProcess(op: () => Promise<unknown>, load: LoadSettings): Promise<Figures> {
  const phase = async (ms: number): Promise<PhaseResult> => {
    const latencies: number[] = [];
    let count = 0;
    const start = performance.now();
    const end = start + ms;
    await Promise.all(
      Array.from({ length: load.concurrency }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          await op();
          latencies.push(performance.now() - t0);
          count++;
        }
      }),
    );
    return { count, errors: 0, elapsedMs: performance.now() - start, latencies: Float64Array.from(latencies) };
  };
  await phase(load.warmupSeconds * 1000);
  return figures(await phase(load.seconds * 1000));
}
