import path from "node:path";
import { parseArgs } from "node:util";
import { ApiKeyService } from "../auth/apikeys.js";
import { ConfigError, loadConfig } from "../config.js";
import { openDatabase } from "../db/client.js";
import { MEDIA_KINDS } from "../db/media-kinds.js";
import { applyPendingMigrations } from "../db/migrate.js";
import { DeletionQueue } from "../media/deletions.js";
import { collectGarbage } from "../media/gc.js";
import { ScratchSpace, scratchRootOf } from "../media/scratch.js";
import { openStorages } from "../storage/registry.js";
import { readCheckpoint, regenerate, writeCheckpoint } from "../media/regenerate.js";
import { buildEngine } from "../engine.js";

const USAGE = `usage: npm run media -- <command> [options]

commands:
  migrate                  apply pending database migrations
  apikey create --owner ID --name NAME [--admin]
                           make an API key (shown once) for calls as that owner
  apikey list              list keys: id, name, owner, admin, created, last used, revoked
  apikey revoke ID         revoke a key
  gc [--dry-run] [--grace-minutes N]
                           carry out pending storage deletions, then remove stored objects that no
                           file row names and that are older than the grace period (minutes,
                           default 60, at least 10), and scratch folders that stopped
                           processes left under DATA_DIR/scratch
  regenerate [--kind K] [--preset P] [--only-missing | --stale] [--shelf ID] [--resume]
                           make versions again, a batch of shelves at a time: those that exist,
                           and missing ones of eager presets (or of the preset named);
                           --only-missing: only missing and failed ones; --stale: only those made
                           with a recipe their preset no longer has; --resume carries on after the
                           last batch an interrupted run finished`;

/** The operator's command line: the same configuration (environment) as the service. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  const db = await openDatabase({ databaseUrl: config.databaseUrl, embeddedDbDir: config.embeddedDbDir, log: (m) => console.log(m) });
  try {
    // Every command works on an up-to-date schema, as the service does once started.
    if (command && command !== "migrate") await applyPendingMigrations(db.adapterFactory);
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
        // Scratch folders of processes that are gone: a service or worker killed mid-transcode.
        const scratch = new ScratchSpace(scratchRootOf(config.dataDir));
        for (const folder of values["dry-run"] ? await scratch.leftovers() : await scratch.sweep()) {
          console.log(`${values["dry-run"] ? "would remove" : "removed"} scratch folder ${folder}`);
        }
        console.log(`scanned ${report.scanned} object(s), ${values["dry-run"] ? "found" : "removed"} ${report.orphans.length} orphan(s)`);
        return 0;
      }
      case "regenerate": {
        const { values } = parseArgs({
          args: rest,
          options: {
            kind: { type: "string" },
            preset: { type: "string" },
            "only-missing": { type: "boolean" },
            stale: { type: "boolean" },
            shelf: { type: "string" },
            resume: { type: "boolean" },
          },
        });
        const kind = values.kind?.toUpperCase();
        if (kind && !(MEDIA_KINDS as string[]).includes(kind)) throw new ConfigError(`--kind must be ${MEDIA_KINDS.slice(0, -1).join(", ")} or ${MEDIA_KINDS.at(-1)}`);
        if (values.preset && !config.versions.presets.all().some((p) => p.name === values.preset && (!kind || p.kind === kind))) {
          throw new ConfigError(`no preset ${JSON.stringify(values.preset)}${kind ? ` for ${kind}` : ""}`);
        }
        if (values["only-missing"] && values.stale) throw new ConfigError("--only-missing and --stale do not go together");
        const engine = buildEngine(config, db, (m) => console.log(m));
        const checkpoint = path.join(config.dataDir, "regenerate.checkpoint.json");
        const after = values.resume ? await readCheckpoint(checkpoint) : undefined;
        if (values.resume) console.log(after ? `resuming after shelf ${after}` : "no checkpoint: starting from the first shelf");
        try {
          const result = await regenerate(
            { prisma: db.prisma, versions: engine.services.versions, workers: engine.workers },
            { kind: kind as never, preset: values.preset, onlyMissing: values["only-missing"], stale: values.stale, shelfId: values.shelf, after },
            async (progress) => {
              await writeCheckpoint(checkpoint, progress.lastShelfId);
              process.stderr.write(`\r${progressBar(progress.done, progress.total)} ${progress.done}/${progress.total} shelves, ${progress.queued} versions`);
            },
          );
          process.stderr.write("\n");
          await writeCheckpoint(checkpoint, undefined);
          await engine.services.deletions.drain();
          console.log(`regenerated ${result.queued} version(s) of ${result.done} shelf(s)`);
        } finally {
          await engine.close();
        }
        return 0;
      }
      case "apikey": {
        const keys = new ApiKeyService(db.prisma);
        const [action, ...args] = rest;
        if (action === "create") {
          const { values } = parseArgs({ args, options: { owner: { type: "string" }, name: { type: "string" }, admin: { type: "boolean" } } });
          if (!values.owner || !values.name) throw new ConfigError("apikey create needs --owner and --name");
          const { id, key } = await keys.create({ ownerId: values.owner, name: values.name, admin: values.admin });
          console.log(`created key ${id} for ${values.owner}${values.admin ? " (admin)" : ""}; it is shown only now:\n${key}`);
          return 0;
        }
        if (action === "list") {
          for (const k of await keys.list()) {
            const used = k.lastUsedAt?.toISOString() ?? "never";
            console.log(`${k.id}  ${k.name}  owner=${k.ownerId}${k.admin ? "  admin" : ""}  created=${k.createdAt.toISOString()}  last-used=${used}${k.revokedAt ? `  revoked=${k.revokedAt.toISOString()}` : ""}`);
          }
          return 0;
        }
        if (action === "revoke" && args[0]) {
          const revoked = await keys.revoke(args[0]);
          console.log(revoked ? `revoked ${args[0]}` : `no active key ${args[0]}`);
          return revoked ? 0 : 1;
        }
        console.error(USAGE);
        return 2;
      }
      default:
        console.error(USAGE);
        return command ? 2 : 0;
    }
  } finally {
    await db.close();
  }
}

function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  },
);
