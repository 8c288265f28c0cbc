import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { RunningApp, StartOptions } from "../../src/app.js";
import { postGraphql } from "../harness/graphql.js";
import { onCleanup } from "../harness/lifecycle.js";
import { createDatabase, postgresVersion } from "../harness/postgres.js";
import { loadConfig, startApp } from "./compiled-service.js";
import { expiriesOf, floorDocument, openFloor, startFloorServer } from "./floor.js";
import { loadHttp, loadInProcess, type Figures, type LoadSettings } from "./load.js";
import { seed } from "./seed.js";

/** One database flavour: the GraphQL path, its statements per request, and both floors. */

export const PAGE = 50;
const COUNTED_PAGE_SIZES = [5, 50, 100];

export const pageQuery = (first: number) =>
  `{ viewer { library { shelfSet(first: ${first}) { edges { node { id title original { url size mimeType } relations { model objectId } } } } } } }`;

export interface FlavourResult {
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

/** The service in this process, as in production, on `dataDir` and the database given (PGlite without one). */
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

/** SQL statements (and of them SELECTs) one GraphQL request sends, per page size, on a start with the query hook. */
async function countStatements(dataDir: string, databaseUrl: string | undefined, shelves: number): Promise<FlavourResult["queries"]> {
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
    assert.equal(edges.length, Math.min(first, shelves), `first: ${first} returned ${edges.length} edges`);
    queries.push({ first, selects: statements.filter((s) => /^\s*(\/\*.*?\*\/\s*)?(WITH|SELECT)\b/i.test(s)).length, statements: statements.length });
  }
  await counted.close();
  return queries;
}

export async function runFlavour(flavour: "postgresql" | "pglite", shelves: number, load: LoadSettings): Promise<FlavourResult> {
  const sandbox = await fs.mkdtemp(path.join(os.tmpdir(), "bench-api-"));
  const removeSandbox = onCleanup(`temp dir ${sandbox}`, () => fs.rm(sandbox, { recursive: true, force: true }));
  const dataDir = path.join(sandbox, "data");
  let databaseUrl: string | undefined;
  let dropDatabase = async () => {};
  let label = "PGlite (embedded)";
  if (flavour === "postgresql") {
    const database = await createDatabase("bench_api");
    databaseUrl = database.url;
    dropDatabase = database.drop;
    label = `PostgreSQL ${await postgresVersion()}`;
  }
  // 1. Throughput of the GraphQL path, on a service started as in production (no query log).
  let t = performance.now();
  const service = await startService(dataDir, databaseUrl);
  const startMs = performance.now() - t;
  t = performance.now();
  await seed(service.app, shelves);
  const seedMs = performance.now() - t;
  console.log(`  ${label}: service started in ${(startMs / 1000).toFixed(1)} s, ${shelves} shelves seeded in ${(seedMs / 1000).toFixed(1)} s`);
  const reference = await postGraphql(service.app.url, pageQuery(PAGE));
  const body = JSON.stringify({ query: pageQuery(PAGE) });
  const graphql = await loadHttp(`${service.app.url}/graphql`, body, Buffer.byteLength(reference), load);
  console.log(`  ${label}: GraphQL ${graphql.rps.toFixed(0)} req/s`);
  await service.close();

  // 2. Statements per request, on a second start with the query hook (query logging costs time).
  const queries = await countStatements(dataDir, databaseUrl, shelves);

  // 3. The floor, through the same driver on the same database.
  const floor = await openFloor(databaseUrl, dataDir);
  // The floor must produce the very document the service does (links signed for the same
  // expiry), or the comparison means nothing.
  const expiries = expiriesOf(reference);
  const floorDoc = await floorDocument(floor, PAGE, (id) => expiries.get(id) ?? 0);
  assert.deepEqual(JSON.parse(floorDoc), JSON.parse(reference), "the floor's document differs from the GraphQL answer");
  // Byte for byte too, up to the service's trailing newline.
  assert.equal(floorDoc, JSON.stringify(JSON.parse(reference)), "the floor's document is not byte for byte the GraphQL answer");
  const dbFloor = await loadInProcess(() => floorDocument(floor, PAGE), load);
  console.log(`  ${label}: DB floor ${dbFloor.rps.toFixed(0)} req/s`);
  const floorServer = await startFloorServer(floor, PAGE);
  const httpFloor = await loadHttp(floorServer.url, body, Buffer.byteLength(floorDoc), load);
  console.log(`  ${label}: HTTP floor ${httpFloor.rps.toFixed(0)} req/s`);
  await floorServer.close();
  await floor.close();

  // Nothing holds a connection any more. (After a failure the remaining cleanups run newest
  // first, so the database is dropped only once the pools are closed.)
  await dropDatabase();
  await removeSandbox();
  return { label, seconds: load.seconds, graphql, dbFloor, httpFloor, queries, signedUrls: expiries.size };
}
