import { randomUUID } from "node:crypto";
import type { RunningApp } from "../../src/app.js";
import { OWNER } from "./floor.js";

/**
 * `shelves` shelves of the local owner, newest last, three in four images and the rest PDFs, each
 * with one ORIGINAL file and one or two relations, through the service's own Prisma client.
 */
export async function seed(app: RunningApp, shelves: number): Promise<void> {
  const base = Date.now() - shelves * 1000;
  const shelfRows = [];
  const files = [];
  const relations = [];
  for (let i = 0; i < shelves; i++) {
    const id = randomUUID();
    const image = i % 4 !== 3;
    const createdAt = new Date(base + i * 1000);
    shelfRows.push({ id, ownerId: OWNER, kind: image ? ("IMAGE" as const) : ("DOCUMENT" as const), title: `Item ${i}`, createdAt, updatedAt: createdAt });
    const ext = image ? "jpg" : "pdf";
    files.push({
      id: randomUUID(),
      shelfId: id,
      variant: "original",
      role: "ORIGINAL" as const,
      storage: "default",
      name: `${image ? "image" : "document"}/2026/01/${id}/item ${i}.${ext}`,
      size: BigInt(10_000 + i * 37),
      mimeType: image ? "image/jpeg" : "application/pdf",
      checksum: (i.toString(16).padStart(8, "0") + "0".repeat(56)).slice(0, 64),
      width: image ? 1920 : null,
      height: image ? 1080 : null,
      status: "READY" as const,
      createdAt,
    });
    relations.push({ id: randomUUID(), shelfId: id, ownerId: OWNER, model: "shop.product", objectId: String(i % 100), position: Math.floor(i / 100) });
    if (i % 2 === 0) {
      relations.push({ id: randomUUID(), shelfId: id, ownerId: OWNER, model: "blog.post", objectId: String(i % 37), position: Math.floor(i / 37) });
    }
  }
  const prisma = app.db.prisma;
  await prisma.shelf.createMany({ data: shelfRows });
  await prisma.mediaFile.createMany({ data: files });
  await prisma.shelfRelation.createMany({ data: relations });
  // Statistics, as autovacuum would gather them within a minute: without them the planner
  // guesses at a fresh table's size and both paths run plans they would not run in service.
  await prisma.$executeRawUnsafe(`ANALYZE "Shelf", "MediaFile", "ShelfRelation"`);
}
