import type { ServiceChild } from "../harness/service.js";
import { secondsSince, sleep } from "../harness/settings.js";
import { askVersion, fetchMedia, uploadFiles } from "./client.js";
import { sha256 } from "./media.js";
import { CONCURRENT_ASKS, GENERATIONS_TARGET, SETTLE_MS, verdict, type Report } from "./settings.js";

/** (c) Single flight: how many times one missing version is made for many concurrent asks. */

interface FlightResult {
  requests: number;
  generations: number;
  versionIds: number;
  statuses: string;
  distinctBodies: number;
  /** The distinct answers other than 200, with the start of their bodies. */
  failures: string[];
  seconds: number;
}

/** `requests` concurrent version(preset: "medium") + GET; generations counted from the log. */
async function singleFlight(service: ServiceChild, shelfId: string, requests: number): Promise<FlightResult> {
  let generations = 0;
  const off = service.child.onLine((line) => {
    if (line.startsWith(`made version medium of shelf ${shelfId} `)) generations++;
  });
  try {
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: requests }, async () => {
        const version = await askVersion(service.url, shelfId, "medium");
        return { id: version.id, ...(await fetchMedia(service.url, version.url)) };
      }),
    );
    const secs = secondsSince(started);
    await sleep(SETTLE_MS); // a second generation would show up by now
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    return {
      requests,
      generations,
      versionIds: new Set(results.map((r) => r.id)).size,
      statuses: [...statuses].map(([status, n]) => `${n}x ${status}`).join(", "),
      distinctBodies: new Set(results.map((r) => sha256(r.body))).size,
      failures: [...new Set(results.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.body.toString("utf8").slice(0, 120))}`))],
      seconds: secs,
    };
  } finally {
    off();
  }
}

export async function partSingleFlight(service: ServiceChild, flightFiles: string[], report: Report): Promise<void> {
  const [busy, quiet] = await uploadFiles(service.url, flightFiles);
  console.log(`\n(c) ${CONCURRENT_ASKS} concurrent version(preset: "medium") + GET of one 2000x1500 image`);
  const single = await singleFlight(service, quiet!.id, 1);
  console.log(`  1 request:   ${single.generations} generation(s), ${single.statuses}, ${single.seconds.toFixed(2)} s`);
  const flight = await singleFlight(service, busy!.id, CONCURRENT_ASKS);
  console.log(
    `  ${CONCURRENT_ASKS} requests: ${flight.generations} generation(s), ${flight.versionIds} version id(s), ${flight.statuses}, ` +
      `${flight.distinctBodies} distinct bod${flight.distinctBodies === 1 ? "y" : "ies"}, ${flight.seconds.toFixed(2)} s`,
  );
  for (const failure of [...single.failures, ...flight.failures]) console.log(`  answered: ${failure}`);
  if (flight.failures.length > 0) report.notes.push(`(c) not every GET answered 200: ${flight.failures.join("; ")}`);
  const ok =
    flight.generations === GENERATIONS_TARGET && flight.versionIds === 1 && flight.distinctBodies === 1 && flight.statuses === `${CONCURRENT_ASKS}x 200`;
  report.rows.push([
    `(c) generations, ${CONCURRENT_ASKS} concurrent asks of one version`,
    String(flight.generations),
    `${single.generations} (1 ask)`,
    single.generations > 0 ? (flight.generations / single.generations).toFixed(2) : "-",
    `= ${GENERATIONS_TARGET}`,
    verdict(ok),
  ]);
}
