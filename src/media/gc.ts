import type { PrismaClient } from "../db/client.js";
import { StorageError, type Storage } from "../storage/contract.js";
import { DatabaseStorage } from "../storage/database.js";
import type { StorageRegistry } from "../storage/registry.js";

export interface GcOptions {
  /** Objects younger than this are left alone: they may belong to an upload still in flight. */
  graceMs: number;
  dryRun?: boolean;
  log?: (message: string) => void;
}

export interface GcReport {
  scanned: number;
  orphans: string[];
}

/**
 * Reconciles storage against the database: an object that no file row names and that is older
 * than the grace period is an orphan (a crash between writing bytes and committing their row, or
 * an abandoned staging file) and is removed.
 */
export async function collectGarbage(prisma: PrismaClient, storages: StorageRegistry, options: GcOptions): Promise<GcReport> {
  const report: GcReport = { scanned: 0, orphans: [] };
  const cutoff = Date.now() - options.graceMs;
  for (const alias of storages.aliases()) {
    const storage = storages.get(alias);
    if (storage instanceof DatabaseStorage && !options.dryRun) {
      const swept = await storage.sweepIncomplete(new Date(cutoff));
      if (swept > 0) options.log?.(`removed ${swept} unfinished database object(s) from ${alias}`);
    }
    for await (const batch of walk(storage, "")) {
      report.scanned += batch.length;
      const known = await prisma.mediaFile.findMany({ where: { storage: alias, name: { in: batch } }, select: { name: true } });
      const knownNames = new Set(known.map((f) => f.name));
      for (const name of batch) {
        if (knownNames.has(name)) continue;
        if ((await storage.getModifiedTime(name)).getTime() > cutoff) continue;
        report.orphans.push(`${alias}:${name}`);
        options.log?.(`${options.dryRun ? "would remove" : "removing"} orphan ${alias}:${name}`);
        if (!options.dryRun) await storage.delete(name);
      }
    }
  }
  return report;
}

/** Every file name under `dir`, one directory's files at a time, so memory stays flat. */
async function* walk(storage: Storage, dir: string): AsyncGenerator<string[]> {
  const listing = await storage.listdir(dir).catch((err: unknown) => {
    // Emptied and removed since its parent was listed (local disk prunes empty directories).
    if (dir !== "" && err instanceof StorageError && err.code === "NOT_FOUND") return undefined;
    throw err;
  });
  if (!listing) return;
  const { directories, files } = listing;
  const prefix = dir === "" ? "" : `${dir}/`;
  const names = files.map((f) => prefix + f);
  if (names.length > 0) yield names;
  for (const sub of directories) yield* walk(storage, prefix + sub);
}
