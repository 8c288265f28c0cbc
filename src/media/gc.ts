import type { PrismaClient } from "../db/client.js";
import { StorageError, type Storage } from "../storage/contract.js";
import type { StorageRegistry } from "../storage/registry.js";

export interface GcOptions {
  /** Objects younger than this are left alone: they may belong to an upload still in flight. */
  graceMs: number;
  dryRun?: boolean;
  log?: (message: string) => void;
  /** The clock the grace period is measured against (tests move it forward). */
  now?: () => Date;
}

export interface GcReport {
  scanned: number;
  orphans: string[];
  /** Saves cut short that the backends keep out of sight (unfinished rows, multipart uploads), removed or, on a dry run, found. */
  incomplete: number;
}

/**
 * Reconciles storage against the database: an object that no file row names and that is older
 * than the grace period is an orphan (a crash between writing bytes and committing their row, or
 * an abandoned staging file) and is removed.
 */
export async function collectGarbage(prisma: PrismaClient, storages: StorageRegistry, options: GcOptions): Promise<GcReport> {
  const report: GcReport = { scanned: 0, orphans: [], incomplete: 0 };
  const cutoff = (options.now?.() ?? new Date()).getTime() - options.graceMs;
  for (const alias of storages.aliases()) {
    const storage = storages.get(alias);
    report.incomplete += await sweepIncomplete(storage, alias, new Date(cutoff), options);
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

/** The backend's own leftovers of saves cut short, where it declares it has any. */
async function sweepIncomplete(storage: Storage, alias: string, before: Date, options: GcOptions): Promise<number> {
  if (!storage.sweepIncomplete) return 0;
  try {
    const swept = await storage.sweepIncomplete(before, { dryRun: options.dryRun });
    if (swept > 0) options.log?.(`${options.dryRun ? "would abort" : "aborted"} ${swept} unfinished upload(s) in ${alias}`);
    return swept;
  } catch (err) {
    // Some S3-compatible stores cannot list them: their bucket's lifecycle rule has to.
    if (!(err instanceof StorageError && err.code === "NOT_SUPPORTED")) throw err;
    options.log?.(`${alias} cannot list unfinished uploads; a lifecycle rule on the bucket (AbortIncompleteMultipartUpload) has to remove them`);
    return 0;
  }
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
