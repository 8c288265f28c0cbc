import { ConfigError, loadConfig } from "./config.js";
import { openDatabase } from "./db/client.js";
import { applyPendingMigrations } from "./db/migrate.js";
import { buildEngine } from "./engine.js";
import { closeOnSignal } from "./shutdown.js";

/**
 * A process that only runs transcoding jobs (`npm run worker`), beside service instances on the
 * same PostgreSQL database; the embedded database belongs to one process, so there the service
 * runs its workers itself.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new ConfigError("npm run worker needs DATABASE_URL: the embedded database is the service's own");
  const db = await openDatabase({ databaseUrl: config.databaseUrl, embeddedDbDir: config.embeddedDbDir });
  await applyPendingMigrations(db.adapterFactory);
  const engine = buildEngine(config, db, (m) => console.log(m));
  await engine.scratch.sweep();
  engine.services.deletions.start();
  for (const pool of engine.workers) pool.start();
  console.log(`worker running: ${engine.workers.map((w) => `${w.queue} ×${w.concurrency}`).join(", ")}`);
  closeOnSignal("finishing: the jobs under way are handed back", async () => {
    await engine.close();
    await db.close();
  });
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
