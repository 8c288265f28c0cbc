/**
 * API read benchmark: the library page through GraphQL against a hand-written SQL floor.
 *
 * In one run, on PostgreSQL (and, for information, on the embedded PGlite) it
 *  - creates a throwaway database `bench_api_<random>` (PostgreSQL) and a temp DATA_DIR, starts
 *    the real service in this process (`startApp(loadConfig({...}))` of lib/, compiled by
 *    `npm run build` as for `npm start`, PORT=0, NODE_ENV=production,
 *    no AUTH_*, so every request acts as the local owner "local"), and seeds BENCH_SHELVES (500)
 *    shelves, each with one ORIGINAL MediaFile and one or two ShelfRelation rows, with createMany
 *    through `app.db.prisma`, then ANALYZEs them (as autovacuum soon would);
 *  - GraphQL path: POST /graphql with
 *      { viewer { library { shelfSet(first: 50) { edges { node { id title original { url size mimeType } relations { model objectId } } } } } } }
 *    from BENCH_CONCURRENCY (8) keep-alive clients for BENCH_SECONDS (8) after BENCH_WARMUP_SECONDS
 *    (2) of warm-up. The clients run in a worker thread (node:http, keep-alive agent), so their
 *    JavaScript does not share the service's event loop; every answer must be 200 and exactly as
 *    long as the checked reference answer;
 *  - DB floor: the same page as one SQL statement (Shelf ⋈ original MediaFile, relations as a
 *    json_agg subquery, newest first, LIMIT 50; on PostgreSQL a named statement, prepared once
 *    per connection as the service's is) through the same driver (a `pg` Pool on the same
 *    URL; PGlite opened on the same directory), turned into the same JSON document the GraphQL
 *    answer is (links of non-PUBLIC shelves signed with the service's key, as the service signs
 *    them), at the same concurrency and duration, in this thread, without HTTP;
 *  - HTTP floor (information): a bare node:http server answering that SQL result, loaded by the
 *    same worker clients as the GraphQL path;
 *  - checks that the floor's document is the GraphQL answer byte for byte, then counts the
 *    SQL statements (`startApp(config, { onQuery })`) of one GraphQL request for first = 5, 50
 *    and 100: a constant count shows the page is batched, not N+1. The throughput runs use an app
 *    started without onQuery (query logging costs time); the counts use a second start.
 *
 * Prints req/s and p50/p95 for each path, the ratio GraphQL / DB floor (target >= 0.3, judged on
 * PostgreSQL) and "target met" / "target missed"; exits 0 either way, 1 when something fails.
 * The database, the temp dirs, servers and the worker are removed on every exit path.
 *
 * Run: npm run bench:api
 * (optional env: BENCH_POSTGRES_URL (default TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/postgres),
 *  BENCH_CONCURRENCY=8, BENCH_SECONDS=8, BENCH_WARMUP_SECONDS=2, BENCH_SHELVES=500,
 *  BENCH_PGLITE=1 (0 skips PGlite), BENCH_PGLITE_SECONDS=4)
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type { RunningApp, StartOptions } from "../src/app.js";
import { UrlSigner } from "../src/storage/signing.js";
import { positiveInt } from "./children.js";

// The service runs as in production: compiled to lib/ as `npm start` runs it, with NODE_ENV
// set before its modules load (graphql-js and express read it at load time).
process.env.NODE_ENV = "production";
execFileSync("npm", ["run", "--silent", "build"], { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: "inherit" });
const { startApp } = (await import(new URL("../lib/app.js", import.meta.url).href)) as typeof import("../src/app.js");
const { loadConfig } = (await import(new URL("../lib/config.js", import.meta.url).href)) as typeof import("../src/config.js");

const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const CONCURRENCY = positiveInt(process.env.BENCH_CONCURRENCY, 8);
const SECONDS = positiveNumber(process.env.BENCH_SECONDS, 8);
const WARMUP_SECONDS = positiveNumber(process.env.BENCH_WARMUP_SECONDS, 2);
const SHELVES = positiveInt(process.env.BENCH_SHELVES, 500);
const WITH_PGLITE = process.env.BENCH_PGLITE !== "0";
const PGLITE_SECONDS = positiveNumber(process.env.BENCH_PGLITE_SECONDS, 4);

const OWNER = "local";
const PAGE = 50;
const RATIO_TARGET = 0.3;
const COUNTED_PAGE_SIZES = [5, 50, 100];
const OVERALL_TIMEOUT_MS = 170_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** The default storage's URL prefix (MEDIA_URL's default); the floor builds the same URLs. */
const MEDIA_URL = "/media/";
/** Lifetime of a private shelf's signed links (the default storage's querystringExpire default). */
const SIGNED_EXPIRES_IN = 3600;

const pageQuery = (first: number) =>
  `{ viewer { library { shelfSet(first: ${first}) { edges { node { id title original { url size mimeType } relations { model objectId } } } } } } }`;

function positiveNumber(raw: string | undefined, fallback: number): number {
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`Expected a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything made is registered here and undone in reverse order on every exit path.
// ---------------------------------------------------------------------------------------------

const cleanups: Array<{ label: string; run: () => Promise<void> }> = [];
function onCleanup(label: string, run: () => Promise<void>): () => Promise<void> {
  const entry = { label, run };
  cleanups.push(entry);
  // Undo one step early (and only once).
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await run();
  };
}

let cleaning: Promise<void> | undefined;
function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { label, run } = cleanups.pop()!;
      try {
        await run();
      } catch (err) {
        console.error(`cleanup (${label}) failed: ${(err as Error).message}`);
      }
    }
  })();
  return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Load generation and statistics
// ---------------------------------------------------------------------------------------------

interface PhaseResult {
  count: number;
  errors: number;
  elapsedMs: number;
  latencies: Float64Array;
  firstError?: string;
}

interface Figures {
  rps: number;
  p50: number;
  p95: number;
  count: number;
  errors: number;
  firstError?: string;
}

function figures(r: PhaseResult): Figures {
  const sorted = Float64Array.from(r.latencies).sort();
  const pct = (p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
  return { rps: (r.count * 1000) / r.elapsedMs, p50: pct(50), p95: pct(95), count: r.count, errors: r.errors, firstError: r.firstError };
}

/**
 * HTTP clients in a worker thread: plain JavaScript (run with eval), node:http with a keep-alive
 * agent of CONCURRENCY sockets, each client sending its next request when the last one is read.
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

async function loadHttp(url: string, body: string, expectedBytes: number, seconds: number): Promise<Figures> {
  const worker = new Worker(CLIENT_WORKER, {
    eval: true,
    workerData: {
      url,
      body,
      concurrency: CONCURRENCY,
      warmupMs: WARMUP_SECONDS * 1000,
      durationMs: seconds * 1000,
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

/** CONCURRENCY loops calling `op` in this thread (the DB floor). */
async function loadInProcess(op: () => Promise<unknown>, seconds: number): Promise<Figures> {
  const phase = async (ms: number): Promise<PhaseResult> => {
    const latencies: number[] = [];
    let count = 0;
    const start = performance.now();
    const end = start + ms;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
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
  await phase(WARMUP_SECONDS * 1000);
  return figures(await phase(seconds * 1000));
}

// ---------------------------------------------------------------------------------------------
// The floor: one hand-written statement, shaped into the GraphQL answer's document
// ---------------------------------------------------------------------------------------------

const FLOOR_SQL = `
SELECT s.id, s.title, s.visibility::text AS visibility, f.name, f.size, f."mimeType",
       COALESCE((SELECT json_agg(json_build_object('model', r.model, 'objectId', r."objectId") ORDER BY r.model, r."objectId")
                 FROM "ShelfRelation" r WHERE r."shelfId" = s.id), '[]'::json) AS relations
FROM "Shelf" s
JOIN "MediaFile" f ON f."shelfId" = s.id AND f.variant = 'original'
WHERE s."ownerId" = $1
ORDER BY s."createdAt" DESC, s.id DESC
LIMIT $2`;

interface FloorRow {
  id: string;
  title: string;
  visibility: string;
  name: string;
  size: string | number | bigint;
  mimeType: string;
  relations: Array<{ model: string; objectId: string }>;
}

type RunSql = (sql: string, params: unknown[]) => Promise<FloorRow[]>;

/**
 * The page as the service would send it, by hand: one statement, then the same document. Files of
 * a shelf that is not PUBLIC get links signed like the service's (HMAC-SHA256 over alias, name,
 * expiry and download flag, with the key the service keeps in DATA_DIR). `expiresAt` fixes a
 * shelf's expiry, so the check can compare with an answer made a moment earlier.
 */
interface Floor {
  runSql: RunSql;
  signer: UrlSigner;
}

function mediaUrl(floor: Floor, row: FloorRow, expires: number): string {
  const url = MEDIA_URL + row.name.split("/").map(encodeURIComponent).join("/");
  if (row.visibility === "PUBLIC") return url;
  const signature = floor.signer.sign("default", row.name, expires, false);
  return `${url}?expires=${expires}&signature=${signature}`;
}

async function floorDocument(floor: Floor, first: number, expiresAt?: (shelfId: string) => number): Promise<string> {
  const rows = await floor.runSql(FLOOR_SQL, [OWNER, first]);
  const expires = Math.floor(Date.now() / 1000) + SIGNED_EXPIRES_IN;
  const edges = rows.map((r) => ({
    node: {
      id: r.id,
      title: r.title,
      original: { url: mediaUrl(floor, r, expiresAt?.(r.id) ?? expires), size: Number(r.size), mimeType: r.mimeType },
      relations: r.relations,
    },
  }));
  return JSON.stringify({ data: { viewer: { library: { shelfSet: { edges } } } } });
}

async function openFloor(runSql: (sql: string, params: unknown[]) => Promise<unknown[]>, dataDir: string): Promise<Floor> {
  const signer = new UrlSigner((await fs.readFile(path.join(dataDir, "signing.key"), "utf8")).trim());
  return { runSql: runSql as RunSql, signer };
}

type PageDocument = { data: { viewer: { library: { shelfSet: { edges: Array<{ node: { id: string; original: { url: string } } }> } } } } };

/** Each shelf's link expiry in a GraphQL answer (absent for unsigned links). */
function expiriesOf(document: string): Map<string, number> {
  const expiries = new Map<string, number>();
  for (const { node } of (JSON.parse(document) as PageDocument).data.viewer.library.shelfSet.edges) {
    const match = /[?&]expires=(\d+)/.exec(node.original.url);
    if (match) expiries.set(node.id, Number(match[1]));
  }
  return expiries;
}

async function startFloorServer(floor: Floor): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      floorDocument(floor, PAGE).then(
        (doc) => {
          res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(doc) });
          res.end(doc);
        },
        (err: Error) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(err.message);
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

async function startService(dataDir: string, databaseUrl: string | undefined, options: StartOptions = {}): Promise<{ app: RunningApp; close(): Promise<void> }> {
  const config = loadConfig({
    NODE_ENV: "production",
    PORT: "0",
    DATA_DIR: dataDir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const logs: string[] = [];
  const app = await startApp(config, { log: (m) => logs.push(m), ...options });
  const close = onCleanup("service", () => app.close());
  return { app, close };
}

async function seed(app: RunningApp): Promise<void> {
  const base = Date.now() - SHELVES * 1000;
  const shelves = [];
  const files = [];
  const relations = [];
  for (let i = 0; i < SHELVES; i++) {
    const id = randomUUID();
    const image = i % 4 !== 3;
    const createdAt = new Date(base + i * 1000);
    shelves.push({ id, ownerId: OWNER, kind: image ? ("IMAGE" as const) : ("DOCUMENT" as const), title: `Item ${i}`, createdAt, updatedAt: createdAt });
    const ext = image ? "jpg" : "pdf";
    files.push({
      id: randomUUID(),
      shelfId: id,
      variant: "original",
      role: "ORIGINAL" as const,
      storage: "default",
      name: `${image ? "image" : "document"}/2026/01/${id}/item ${i}.${ext}`,
      size: BigInt(10_000 + i * 37),
      mimeType: image ? "image/jpeg" : "application/pdf",
      checksum: (i.toString(16).padStart(8, "0") + "0".repeat(56)).slice(0, 64),
      width: image ? 1920 : null,
      height: image ? 1080 : null,
      status: "READY" as const,
      createdAt,
    });
    relations.push({ id: randomUUID(), shelfId: id, ownerId: OWNER, model: "shop.product", objectId: String(i % 100), position: Math.floor(i / 100) });
    if (i % 2 === 0) {
      relations.push({ id: randomUUID(), shelfId: id, ownerId: OWNER, model: "blog.post", objectId: String(i % 37), position: Math.floor(i / 37) });
    }
  }
  const prisma = app.db.prisma;
  await prisma.shelf.createMany({ data: shelves });
  await prisma.mediaFile.createMany({ data: files });
  await prisma.shelfRelation.createMany({ data: relations });
  // Statistics, as autovacuum would gather them within a minute: without them the planner
  // guesses at a fresh table's size and both paths run plans they would not run in service.
  await prisma.$executeRawUnsafe(`ANALYZE "Shelf", "MediaFile", "ShelfRelation"`);
}

async function postGraphql(url: string, query: string): Promise<string> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GraphQL answered ${res.status}: ${text.slice(0, 500)}`);
  const parsed = JSON.parse(text) as { errors?: unknown };
  if (parsed.errors) throw new Error(`GraphQL errors: ${JSON.stringify(parsed.errors).slice(0, 500)}`);
  return text;
}

// ---------------------------------------------------------------------------------------------
// One database flavour
// ---------------------------------------------------------------------------------------------

interface FlavourResult {
  label: string;
  seconds: number;
  graphql: Figures;
  dbFloor: Figures;
  httpFloor: Figures;
  /** Statements sent for one GraphQL request, per page size. */
  queries: Array<{ first: number; selects: number; statements: number }>;
  /** How many of the page's links are signed (private shelves). */
  signedUrls: number;
}

async function runFlavour(flavour: "postgresql" | "pglite", seconds: number): Promise<FlavourResult> {
  const sandbox = await fs.mkdtemp(path.join(os.tmpdir(), "bench-api-"));
  const removeSandbox = onCleanup(`temp dir ${sandbox}`, () => fs.rm(sandbox, { recursive: true, force: true }));
  const dataDir = path.join(sandbox, "data");
  let databaseUrl: string | undefined;
  let dropDatabase = async () => {};
  let label = "PGlite (embedded)";
  if (flavour === "postgresql") {
    const dbName = `bench_api_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    await adminQuery(`CREATE DATABASE ${dbName}`);
    dropDatabase = onCleanup(`database ${dbName}`, () => adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
    const url = new URL(ADMIN_URL);
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
    label = `PostgreSQL ${await serverVersion()}`;
  }
  // 1. Throughput of the GraphQL path, on a service started as in production (no query log).
  let t = performance.now();
  const service = await startService(dataDir, databaseUrl);
  const startMs = performance.now() - t;
  t = performance.now();
  await seed(service.app);
  const seedMs = performance.now() - t;
  console.log(`  ${label}: service started in ${(startMs / 1000).toFixed(1)} s, ${SHELVES} shelves seeded in ${(seedMs / 1000).toFixed(1)} s`);
  const reference = await postGraphql(service.app.url, pageQuery(PAGE));
  const body = JSON.stringify({ query: pageQuery(PAGE) });
  const graphql = await loadHttp(`${service.app.url}/graphql`, body, Buffer.byteLength(reference), seconds);
  console.log(`  ${label}: GraphQL ${graphql.rps.toFixed(0)} req/s`);
  await service.close();

  // 2. Statements per request, on a second start with the query hook.
  let counting = false;
  const statements: string[] = [];
  const counted = await startService(dataDir, databaseUrl, {
    onQuery: (sql) => {
      if (counting) statements.push(sql);
    },
  });
  const queries: FlavourResult["queries"] = [];
  for (const first of COUNTED_PAGE_SIZES) {
    await postGraphql(counted.app.url, pageQuery(first)); // warm
    statements.length = 0;
    counting = true;
    const text = await postGraphql(counted.app.url, pageQuery(first));
    await new Promise((resolve) => setTimeout(resolve, 20)); // let trailing query events arrive
    counting = false;
    const edges = (JSON.parse(text) as { data: { viewer: { library: { shelfSet: { edges: unknown[] } } } } }).data.viewer.library.shelfSet.edges;
    assert.equal(edges.length, Math.min(first, SHELVES), `first: ${first} returned ${edges.length} edges`);
    queries.push({ first, selects: statements.filter((s) => /^\s*(\/\*.*?\*\/\s*)?(WITH|SELECT)\b/i.test(s)).length, statements: statements.length });
  }
  await counted.close();

  // 3. The floor, through the same driver on the same database.
  let runSql: (sql: string, params: unknown[]) => Promise<unknown[]>;
  let closeDriver: () => Promise<void>;
  if (databaseUrl) {
    const pool = new pg.Pool({ connectionString: databaseUrl });
    // An idle client whose connection drops must not take the process down. (pool.end() lets
    // go of its clients before their connections have closed; the DROP DATABASE ... WITH
    // (FORCE) that follows can still reach one of them, which is expected then.)
    let ending = false;
    pool.on("error", (err) => {
      if (!ending) console.error(`floor pool: ${err.message}`);
    });
    // Prepared once per connection, as the service prepares its list statement: the floor gets
    // every advantage the service takes.
    runSql = async (sql, params) => (await pool.query({ name: "floor_page", text: sql, values: params })).rows;
    closeDriver = onCleanup("pg pool", () => {
      ending = true;
      return pool.end();
    });
  } else {
    const pglite = await PGlite.create(path.join(dataDir, "db"));
    runSql = async (sql, params) => (await pglite.query(sql, params)).rows;
    closeDriver = onCleanup("PGlite", () => pglite.close());
  }
  const floor = await openFloor(runSql, dataDir);
  // The floor must produce the very document the service does (links signed for the same
  // expiry), or the comparison means nothing.
  const expiries = expiriesOf(reference);
  const floorDoc = await floorDocument(floor, PAGE, (id) => expiries.get(id) ?? 0);
  assert.deepEqual(JSON.parse(floorDoc), JSON.parse(reference), "the floor's document differs from the GraphQL answer");
  // Byte for byte too, up to the service's trailing newline.
  assert.equal(floorDoc, JSON.stringify(JSON.parse(reference)), "the floor's document is not byte for byte the GraphQL answer");
  const dbFloor = await loadInProcess(() => floorDocument(floor, PAGE), seconds);
  console.log(`  ${label}: DB floor ${dbFloor.rps.toFixed(0)} req/s`);
  const floorServer = await startFloorServer(floor);
  const closeFloorServer = onCleanup("floor server", () => floorServer.close());
  const httpFloor = await loadHttp(floorServer.url, body, Buffer.byteLength(floorDoc), seconds);
  console.log(`  ${label}: HTTP floor ${httpFloor.rps.toFixed(0)} req/s`);
  await closeFloorServer();
  await closeDriver();

  // Nothing holds a connection any more. (After a failure cleanupAll undoes every step that is
  // left, newest first, so the database is dropped only once the pools are closed.)
  await dropDatabase();
  await removeSandbox();
  return { label, seconds, graphql, dbFloor, httpFloor, queries, signedUrls: expiries.size };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function serverVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>("SHOW server_version");
    return rows[0]?.server_version.split(" ")[0] ?? "?";
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function report(r: FlavourResult, judged: boolean): { ratioOk: boolean; queriesOk: boolean } {
  const ms = (v: number) => v.toFixed(2).padStart(8);
  const row = (name: string, f: Figures) =>
    `  ${name.padEnd(34)}${f.rps.toFixed(0).padStart(8)}${ms(f.p50)}${ms(f.p95)}${String(f.count).padStart(9)}${String(f.errors).padStart(7)}` +
    (f.firstError ? `   first error: ${f.firstError}` : "");
  const ratio = r.graphql.rps / r.dbFloor.rps;
  const httpRatio = r.graphql.rps / r.httpFloor.rps;
  const ratioOk = ratio >= RATIO_TARGET && r.graphql.errors === 0;
  const counts = new Set(r.queries.map((q) => q.selects));
  const queriesOk = counts.size === 1;
  console.log(`\n${r.label}: ${SHELVES} shelves, page of ${PAGE} (${r.signedUrls} signed links), ${CONCURRENCY} concurrent clients, ${r.seconds} s after ${WARMUP_SECONDS} s warm-up`);
  console.log(`  ${"path".padEnd(34)}${"req/s".padStart(8)}${"p50 ms".padStart(8)}${"p95 ms".padStart(8)}${"requests".padStart(9)}${"errors".padStart(7)}`);
  console.log(row("GraphQL POST /graphql", r.graphql));
  console.log(row("floor: SQL + JSON (no HTTP)", r.dbFloor));
  console.log(row("floor: SQL + JSON over bare HTTP", r.httpFloor));
  console.log(
    `  ratio GraphQL / DB floor:   ${ratio.toFixed(2)}` +
      (judged ? `  (target >= ${RATIO_TARGET}: ${ratioOk ? "met" : "missed"})` : "  (information)"),
  );
  console.log(`  ratio GraphQL / HTTP floor: ${httpRatio.toFixed(2)}  (information)`);
  console.log(
    `  SQL per GraphQL request: ${r.queries.map((q) => `first=${q.first}: ${q.selects} SELECT${q.statements !== q.selects ? ` (${q.statements} statements)` : ""}`).join(", ")}` +
      ` -> ${queriesOk ? "independent of page size" : "GROWS WITH PAGE SIZE"}`,
  );
  return { ratioOk, queriesOk };
}

async function main(): Promise<number> {
  const started = performance.now();
  const watchdog = setTimeout(() => {
    console.error(`\nbench:api did not finish within ${OVERALL_TIMEOUT_MS / 1000} s; cleaning up`);
    void cleanupAll().finally(() => process.exit(1));
  }, OVERALL_TIMEOUT_MS);
  watchdog.unref();

  console.log(`bench:api — Node ${process.version}, ${os.cpus().length} CPUs, NODE_ENV=production`);
  try {
    await adminQuery("SELECT 1");
  } catch (err) {
    throw new Error(`No PostgreSQL answers at ${ADMIN_URL}: ${(err as Error).message}`);
  }
  const postgres = await runFlavour("postgresql", SECONDS);
  const embedded = WITH_PGLITE ? await runFlavour("pglite", PGLITE_SECONDS) : undefined;

  const { ratioOk, queriesOk } = report(postgres, true);
  if (embedded) report(embedded, false);
  const met = ratioOk && queriesOk;
  console.log(`\ntotal runtime ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(
    `${met ? "target met" : "target missed"}: GraphQL/DB floor on PostgreSQL ${(postgres.graphql.rps / postgres.dbFloor.rps).toFixed(2)} (>= ${RATIO_TARGET} wanted), ` +
      `queries per request ${queriesOk ? "constant" : "not constant"} across page sizes`,
  );
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  console.error(`\nbench:api failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  await cleanupAll();
}
process.exit(exitCode);
