import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.js";
import { openDatabase } from "../db/client.js";
import { applyPendingMigrations } from "../db/migrate.js";
import { DeletionQueue } from "../media/deletions.js";
import { collectGarbage } from "../media/gc.js";
import { openStorages } from "../storage/registry.js";

const USAGE = `usage: npm run media -- <command> [options]

commands:
  migrate                  apply pending database migrations
  gc [--dry-run] [--grace-minutes N]
                           carry out pending storage deletions, then remove stored objects that no
                           file row names and that are older than the grace period (minutes,
                           default 60, at least 10)`;

/** The operator's command line: the same configuration (environment) as the service. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  const db = await openDatabase({ databaseUrl: config.databaseUrl, embeddedDbDir: config.embeddedDbDir });
  try {
    switch (command) {
      case "migrate": {
        const applied = await applyPendingMigrations(db.adapterFactory, { log: (m) => console.log(m) });
        console.log(applied.length ? `applied ${applied.length} migration(s)` : "database is up to date");
        return 0;
      }
      case "gc": {
        const { values } = parseArgs({ args: rest, options: { "dry-run": { type: "boolean" }, "grace-minutes": { type: "string" } } });
        const graceMinutes = Number(values["grace-minutes"] ?? 60);
        // Shorter would race uploads in flight: their staged bytes have no row yet.
        if (!Number.isFinite(graceMinutes) || graceMinutes < 10) throw new ConfigError("--grace-minutes must be a number of at least 10");
        const storages = openStorages({ ...config, settings: config.storage, prisma: db.prisma });
        if (!values["dry-run"]) await new DeletionQueue(db.prisma, storages, { log: (m) => console.log(m) }).drain();
        const report = await collectGarbage(db.prisma, storages, {
          graceMs: graceMinutes * 60_000,
          dryRun: values["dry-run"],
          log: (m) => console.log(m),
        });
        storages.close();
        console.log(`scanned ${report.scanned} object(s), ${values["dry-run"] ? "found" : "removed"} ${report.orphans.length} orphan(s)`);
        return 0;
      }
      default:
        console.error(USAGE);
        return command ? 2 : 0;
    }
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  },
);
