import fs from "node:fs/promises";
import type { MediaKind } from "../db/generated/enums.js";
import type { PrismaClient } from "../db/client.js";
import type { WorkerPool } from "../jobs/workers.js";
import type { VersionService } from "./versions.js";

export interface RegenerateOptions {
  kind?: MediaKind;
  preset?: string;
  onlyMissing?: boolean;
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
  const total = await deps.prisma.shelf.count({ where: { ...where, ...(options.after ? { id: { gt: options.after } } : {}) } });
  const progress: RegenerateProgress = { total, done: 0, queued: 0, lastShelfId: options.after };
  for (;;) {
    const shelves = await deps.prisma.shelf.findMany({
      where: { ...where, ...(progress.lastShelfId && !options.shelfId ? { id: { gt: progress.lastShelfId } } : {}) },
      orderBy: { id: "asc" },
      take: options.batchSize ?? 200,
    });
    if (shelves.length === 0) break;
    // One query tells which versions the batch already has, so --only-missing skips them cheaply.
    const existing = await deps.prisma.mediaFile.findMany({
      where: { shelfId: { in: shelves.map((x) => x.id) }, role: "VERSION", preset: { not: null } },
      select: { shelfId: true, variant: true },
    });
    const has = new Set(existing.map((f) => `${f.shelfId} ${f.variant}`));
    for (const shelf of shelves) {
      const presets = deps.versions.presetsOf(shelf.kind).map((p) => p.name).filter((name) => !options.preset || name === options.preset);
      for (const preset of presets) {
        if (options.onlyMissing && has.has(`${shelf.id} ${preset}`)) continue;
        if (await deps.versions.schedule(shelf, preset, { onlyMissing: options.onlyMissing })) progress.queued++;
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
