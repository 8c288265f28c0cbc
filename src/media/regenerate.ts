import fs from "node:fs/promises";
import type { MediaKind } from "../db/generated/enums.js";
import type { PrismaClient } from "../db/client.js";
import type { WorkerPool } from "../jobs/workers.js";
import type { VersionService } from "./versions/index.js";

export interface RegenerateOptions {
  kind?: MediaKind;
  preset?: string;
  /** Only versions the shelves lack (or that FAILED). */
  onlyMissing?: boolean;
  /** Only versions made with a recipe their preset no longer has. */
  stale?: boolean;
  shelfId?: string;
  /** Shelves are walked by id from just after this one (a checkpoint of an earlier run). */
  after?: string;
  batchSize?: number;
}

export interface RegenerateProgress {
  total: number;
  done: number;
  queued: number;
  lastShelfId?: string;
}

/**
 * Walks the matching shelves in id order, a batch at a time: queues their versions, then runs
 * the queued work before reading the next batch, so memory stays flat however many shelves
 * there are. `onBatch` sees each checkpoint (the last shelf id done) so an interrupted run can
 * resume there.
 */
export async function regenerate(
  deps: { prisma: PrismaClient; versions: VersionService; workers: WorkerPool[] },
  options: RegenerateOptions,
  onBatch: (progress: RegenerateProgress) => Promise<void> | void = () => {},
): Promise<RegenerateProgress> {
  const where = {
    ...(options.kind ? { kind: options.kind } : {}),
    ...(options.shelfId ? { id: options.shelfId } : {}),
  };
  const total = options.shelfId
    ? await deps.prisma.shelf.count({ where })
    : await deps.prisma.shelf.count({ where: { ...where, ...(options.after ? { id: { gt: options.after } } : {}) } });
  const progress: RegenerateProgress = { total, done: 0, queued: 0, lastShelfId: options.after };
  for (;;) {
    const shelves = await deps.prisma.shelf.findMany({
      where: { ...where, ...(progress.lastShelfId && !options.shelfId ? { id: { gt: progress.lastShelfId } } : {}) },
      orderBy: { id: "asc" },
      take: options.batchSize ?? 200,
    });
    if (shelves.length === 0) break;
    // One query reads the versions the batch already has; scheduling then reads nothing more.
    const existing = await deps.prisma.mediaFile.findMany({
      where: { shelfId: { in: shelves.map((x) => x.id) }, role: "VERSION", preset: { not: null } },
    });
    const versionOf = new Map(existing.map((f) => [`${f.shelfId} ${f.variant}`, f]));
    for (const shelf of shelves) {
      // A missing version is made for the eager presets, or for the one preset named.
      const presets = deps.versions
        .presetsOf(shelf.kind)
        .filter((p) => (options.preset ? p.name === options.preset : true))
        .filter((p) => p.eager || options.preset || versionOf.has(`${shelf.id} ${p.name}`));
      for (const { name } of presets) {
        const current = versionOf.get(`${shelf.id} ${name}`) ?? null;
        if (options.stale && !current) continue;
        if (await deps.versions.schedule(shelf, name, current, { onlyMissing: options.onlyMissing, staleOnly: options.stale })) progress.queued++;
      }
    }
    await Promise.all(deps.workers.map((w) => w.drain()));
    progress.done += shelves.length;
    progress.lastShelfId = shelves.at(-1)!.id;
    await onBatch(progress);
    if (options.shelfId) break;
  }
  return progress;
}

/** Where a run's checkpoint is kept, so `--resume` carries on after an interruption. */
export async function readCheckpoint(file: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await fs.readFile(file, "utf8")) as { lastShelfId?: string }).lastShelfId;
  } catch {
    return undefined;
  }
}

export async function writeCheckpoint(file: string, lastShelfId: string | undefined): Promise<void> {
  if (lastShelfId === undefined) await fs.rm(file, { force: true });
  else await fs.writeFile(file, JSON.stringify({ lastShelfId }));
}
