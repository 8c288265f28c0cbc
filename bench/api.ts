/**
 * API read benchmark: the library page through GraphQL against a hand-written SQL floor.
 *
 * In one run, on PostgreSQL (and, for information, on the embedded PGlite) it
 *  - creates a throwaway database `bench_api_<pid>_<random>` (PostgreSQL) and a temp DATA_DIR,
 *    starts the real service in this process (`startApp(loadConfig({...}))` of lib/, compiled by
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
// First: it sets NODE_ENV and loads the compiled service before anything else loads graphql-js.
import "./api/compiled-service.js";
import os from "node:os";
import { runFlavour, PAGE, type FlavourResult } from "./api/flavour.js";
import type { Figures } from "./api/load.js";
import { runBenchmark } from "./harness/lifecycle.js";
import { adminQuery } from "./harness/postgres.js";
import { positiveInt, positiveNumber, POSTGRES_ADMIN_URL, secondsSince } from "./harness/settings.js";

const CONCURRENCY = positiveInt(process.env.BENCH_CONCURRENCY, 8);
const SECONDS = positiveNumber(process.env.BENCH_SECONDS, 8);
const WARMUP_SECONDS = positiveNumber(process.env.BENCH_WARMUP_SECONDS, 2);
const SHELVES = positiveInt(process.env.BENCH_SHELVES, 500);
const WITH_PGLITE = process.env.BENCH_PGLITE !== "0";
const PGLITE_SECONDS = positiveNumber(process.env.BENCH_PGLITE_SECONDS, 4);

const RATIO_TARGET = 0.3;

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

async function main(): Promise<void> {
  const started = performance.now();
  console.log(`bench:api — Node ${process.version}, ${os.cpus().length} CPUs, NODE_ENV=production`);
  try {
    await adminQuery("SELECT 1");
  } catch (err) {
    throw new Error(`No PostgreSQL answers at ${POSTGRES_ADMIN_URL}: ${(err as Error).message}`);
  }
  const postgres = await runFlavour("postgresql", SHELVES, { concurrency: CONCURRENCY, warmupSeconds: WARMUP_SECONDS, seconds: SECONDS });
  const embedded = WITH_PGLITE
    ? await runFlavour("pglite", SHELVES, { concurrency: CONCURRENCY, warmupSeconds: WARMUP_SECONDS, seconds: PGLITE_SECONDS })
    : undefined;

  const { ratioOk, queriesOk } = report(postgres, true);
  if (embedded) report(embedded, false);
  const met = ratioOk && queriesOk;
  console.log(`\ntotal runtime ${secondsSince(started).toFixed(1)} s`);
  console.log(
    `${met ? "target met" : "target missed"}: GraphQL/DB floor on PostgreSQL ${(postgres.graphql.rps / postgres.dbFloor.rps).toFixed(2)} (>= ${RATIO_TARGET} wanted), ` +
      `queries per request ${queriesOk ? "constant" : "not constant"} across page sizes`,
  );
}

runBenchmark("bench:api", main, { timeoutMs: 170_000 });
