import { randomUUID } from "node:crypto";
import type { PrismaClient } from "../db/client.js";
import type { ShelfRelation } from "../db/generated/client.js";
import { MediaError } from "../errors.js";

export type { ShelfRelation };
/** The name the GraphQL resolver types map ShelfRelation to. */
export type ShelfRelationModel = ShelfRelation;

/** A record of the calling app: "app_label.model_name" and its id. */
export interface RelationTarget {
  model: string;
  objectId: string;
}

const MODEL = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;
const MAX_OBJECT_ID = 255;

/**
 * Polymorphic links from shelves to the app's records (medialibrary's ShelfRelation). Every
 * method works within one owner's shelves; `allowedModels` is medialibrary's
 * content_type_restriction: exact models or "app_label.*" patterns, none meaning any.
 */
export class RelationService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly allowedModels: readonly string[] = [],
  ) {}

  /** Checks a target and returns it normalised, or refuses it with BAD_USER_INPUT naming the rule. */
  validate(target: RelationTarget): RelationTarget {
    const model = target.model.trim();
    if (!MODEL.test(model)) {
      throw new MediaError("BAD_USER_INPUT", `The model ${JSON.stringify(target.model)} is not of the form app_label.model_name (lower case)`);
    }
    if (this.allowedModels.length > 0 && !this.allowedModels.some((allowed) => matches(allowed, model))) {
      throw new MediaError("BAD_USER_INPUT", `Shelves cannot be attached to ${model}; allowed: ${this.allowedModels.join(", ")}`);
    }
    const objectId = String(target.objectId).trim();
    if (objectId === "" || objectId.length > MAX_OBJECT_ID || /[\p{Cc}]/u.test(objectId)) {
      throw new MediaError("BAD_USER_INPUT", `The object id must be 1 to ${MAX_OBJECT_ID} printable characters`);
    }
    return { model, objectId };
  }

  /** Attaches a shelf to a record, at the end of its list; attaching again changes nothing. */
  async attach(ownerId: string, shelfId: string, target: RelationTarget, db: Pick<PrismaClient, "shelf" | "shelfRelation"> = this.prisma): Promise<ShelfRelation> {
    const { model, objectId } = this.validate(target);
    const shelf = await db.shelf.findFirst({ where: { id: shelfId, ownerId }, select: { id: true } });
    if (!shelf) throw new MediaError("NOT_FOUND", `No shelf with id ${JSON.stringify(shelfId)}`);
    const existing = await db.shelfRelation.findUnique({ where: { shelfId_model_objectId: { shelfId, model, objectId } } });
    if (existing) return existing;
    const last = await db.shelfRelation.aggregate({ where: { ownerId, model, objectId }, _max: { position: true } });
    try {
      return await db.shelfRelation.create({
        data: { id: randomUUID(), shelfId, ownerId, model, objectId, position: (last._max.position ?? -1) + 1 },
      });
    } catch (err) {
      // A concurrent attach of the same pair won: the relation exists, which is what was asked.
      if ((err as { code?: string }).code === "P2002") {
        return db.shelfRelation.findUniqueOrThrow({ where: { shelfId_model_objectId: { shelfId, model, objectId } } });
      }
      throw err;
    }
  }

  /** Detaches a shelf from a record; false when they were not attached (or the shelf is not the owner's). */
  async detach(ownerId: string, shelfId: string, target: RelationTarget): Promise<boolean> {
    const { model, objectId } = this.validate(target);
    const { count } = await this.prisma.shelfRelation.deleteMany({ where: { shelfId, ownerId, model, objectId } });
    return count > 0;
  }

  /** Detaches every shelf of the owner from a record (the app deleted it); returns how many. */
  async detachAll(ownerId: string, target: RelationTarget): Promise<number> {
    const { model, objectId } = this.validate(target);
    const { count } = await this.prisma.shelfRelation.deleteMany({ where: { ownerId, model, objectId } });
    return count;
  }

  /**
   * Puts a record's shelves in the given order; shelves attached but not listed follow, in their
   * old order. Listing a shelf that is not attached is refused.
   */
  async reorder(ownerId: string, target: RelationTarget, shelfIds: readonly string[]): Promise<ShelfRelation[]> {
    const { model, objectId } = this.validate(target);
    if (new Set(shelfIds).size !== shelfIds.length) throw new MediaError("BAD_USER_INPUT", "A shelf is listed twice");
    return this.prisma.$transaction(async (tx) => {
      const current = await tx.shelfRelation.findMany({ where: { ownerId, model, objectId }, orderBy: [{ position: "asc" }, { createdAt: "asc" }] });
      const byShelf = new Map(current.map((r) => [r.shelfId, r]));
      const missing = shelfIds.filter((id) => !byShelf.has(id));
      if (missing.length > 0) throw new MediaError("BAD_USER_INPUT", `Not attached to ${model} ${objectId}: ${missing.join(", ")}`);
      const ordered = [...shelfIds.map((id) => byShelf.get(id)!), ...current.filter((r) => !shelfIds.includes(r.shelfId))];
      return Promise.all(ordered.map((r, position) => tx.shelfRelation.update({ where: { id: r.id }, data: { position } })));
    });
  }

  /** Relations of many shelves in one query: the DataLoader batch function. */
  async relationsOf(shelfIds: readonly string[]): Promise<ShelfRelation[][]> {
    const rows = await this.prisma.shelfRelation.findMany({
      where: { shelfId: { in: [...shelfIds] } },
      orderBy: [{ model: "asc" }, { objectId: "asc" }],
    });
    const byShelf = new Map<string, ShelfRelation[]>(shelfIds.map((id) => [id, []]));
    for (const row of rows) byShelf.get(row.shelfId)?.push(row);
    return shelfIds.map((id) => byShelf.get(id) ?? []);
  }
}

function matches(allowed: string, model: string): boolean {
  return allowed.endsWith(".*") ? model.startsWith(allowed.slice(0, -1)) : allowed === model;
}
