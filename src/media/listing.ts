import type { PrismaClient } from "../db/client.js";
import type { MediaKind, Visibility } from "../db/generated/enums.js";
import { Prisma } from "../db/generated/client.js";
import { MediaError } from "./errors.js";
import type { RelationService, RelationTarget, ShelfRelation } from "./relations.js";
import type { MediaFile, Shelf } from "./shelves.js";

const MAX_PAGE_SIZE = 100;

/** A listed shelf with its files and relations, read in the same statement as the shelf. */
export interface ListedShelf {
  shelf: Shelf;
  /** Originals first, then versions, oldest first. */
  files: MediaFile[];
  /** By model, then object id. */
  relations: ShelfRelation[];
}

export interface ShelfPage {
  shelves: ListedShelf[];
  hasNextPage: boolean;
  /** Counted only when asked for: the count reads every matching row, and most pages do not show it. */
  totalCount(): Promise<number>;
}

export interface PageOptions {
  kind?: MediaKind | null;
  relatedTo?: RelationTarget | null;
  first?: number | null;
  after?: string | null;
}

/**
 * The list reads (the library page and a record's shelves), each one SQL statement that returns
 * the shelves with their files and relations as JSON. Lists are the service's hottest reads, and
 * one statement costs far less than a query per table through the ORM; the same SQL runs on
 * PGlite and PostgreSQL.
 */
export class ShelfListing {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly relations: RelationService,
  ) {}

  /** The owner's shelves, newest first, after the opaque cursor `after`. */
  async page(ownerId: string, options: PageOptions): Promise<ShelfPage> {
    const first = options.first ?? 20;
    if (first < 0 || first > MAX_PAGE_SIZE) {
      throw new MediaError("BAD_USER_INPUT", `first must be between 0 and ${MAX_PAGE_SIZE}`);
    }
    const related = options.relatedTo ? this.relations.validate(options.relatedTo) : undefined;
    const position = options.after ? decodeCursor(options.after) : undefined;
    // A video's poster frames belong to it, not to the library's list (unless attached to a record).
    const filter = Prisma.sql`s."ownerId" = ${ownerId}
      ${related ? Prisma.empty : Prisma.sql`AND s."thumbnailOfId" IS NULL`}
      ${options.kind ? Prisma.sql`AND s.kind = ${options.kind}::"MediaKind"` : Prisma.empty}
      ${
        related
          ? Prisma.sql`AND EXISTS (SELECT 1 FROM "ShelfRelation" t WHERE t."shelfId" = s.id AND t."ownerId" = ${ownerId}
                                   AND t.model = ${related.model} AND t."objectId" = ${related.objectId})`
          : Prisma.empty
      }`;
    // (createdAt, id) below the cursor's, as a row comparison the listing index serves.
    const after = position ? Prisma.sql`AND (s."createdAt", s.id) < (${position.createdAt}::timestamptz, ${position.id}::uuid)` : Prisma.empty;
    const rows = await this.prisma.$queryRaw<Row[]>`
      SELECT ${SHELF_COLUMNS}, ${FILES} AS files, ${RELATIONS} AS relations
      FROM "Shelf" s
      WHERE ${filter} ${after}
      ORDER BY s."createdAt" DESC, s.id DESC
      LIMIT ${first + 1}`;
    return {
      shelves: rows.slice(0, first).map(listed),
      hasNextPage: rows.length > first,
      totalCount: async () => {
        const [row] = await this.prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM "Shelf" s WHERE ${filter}`;
        return row?.n ?? 0;
      },
    };
  }

  /** The owner's shelves attached to a record, in the record's order. */
  async shelvesFor(ownerId: string, target: RelationTarget, kind?: MediaKind | null): Promise<ListedShelf[]> {
    const { model, objectId } = this.relations.validate(target);
    const rows = await this.prisma.$queryRaw<Row[]>`
      SELECT ${SHELF_COLUMNS}, ${FILES} AS files, ${RELATIONS} AS relations
      FROM "ShelfRelation" t
      JOIN "Shelf" s ON s.id = t."shelfId"
      WHERE t."ownerId" = ${ownerId} AND t.model = ${model} AND t."objectId" = ${objectId}
        ${kind ? Prisma.sql`AND s.kind = ${kind}::"MediaKind"` : Prisma.empty}
      ORDER BY t.position, t."createdAt"`;
    return rows.map(listed);
  }
}

const SHELF_COLUMNS = Prisma.sql`s.id, s."ownerId", s.kind::text AS kind, s.title, s.visibility::text AS visibility, s."createdAt", s."updatedAt",
  s."thumbnailOfId", s."selectedThumbnailId"`;

// JSON carries no bigint or timestamp: sizes travel as text, times as ISO strings.
const FILES = Prisma.sql`COALESCE((
  SELECT json_agg(json_build_object(
    'id', f.id, 'shelfId', f."shelfId", 'variant', f.variant, 'role', f.role, 'preset', f.preset,
    'storage', f.storage, 'name', f.name, 'size', f.size::text, 'mimeType', f."mimeType",
    'checksum', f.checksum, 'width', f.width, 'height', f.height, 'durationMs', f."durationMs",
    'videoCodec', f."videoCodec", 'audioCodec', f."audioCodec", 'bitrate', f.bitrate, 'frameRate', f."frameRate",
    'status', f.status, 'progress', f.progress, 'error', f.error, 'recipe', f.recipe, 'createdAt', f."createdAt"
  ) ORDER BY f.role, f."createdAt")
  FROM "MediaFile" f WHERE f."shelfId" = s.id), '[]'::json)`;

const RELATIONS = Prisma.sql`COALESCE((
  SELECT json_agg(json_build_object(
    'id', r.id, 'shelfId', r."shelfId", 'ownerId', r."ownerId", 'model', r.model,
    'objectId', r."objectId", 'position', r.position, 'createdAt', r."createdAt"
  ) ORDER BY r.model, r."objectId")
  FROM "ShelfRelation" r WHERE r."shelfId" = s.id), '[]'::json)`;

interface Row {
  id: string;
  ownerId: string;
  kind: MediaKind;
  title: string;
  visibility: Visibility;
  createdAt: Date;
  updatedAt: Date;
  thumbnailOfId: string | null;
  selectedThumbnailId: string | null;
  files: Array<Omit<MediaFile, "size" | "createdAt"> & { size: string; createdAt: string }>;
  relations: Array<Omit<ShelfRelation, "createdAt"> & { createdAt: string }>;
}

// Every field is named, so a column added to the schema fails the type check here until it is read.
function listed(row: Row): ListedShelf {
  const { id, ownerId, kind, title, visibility, createdAt, updatedAt, thumbnailOfId, selectedThumbnailId } = row;
  const shelf: Shelf = { id, ownerId, kind, title, visibility, createdAt, updatedAt, thumbnailOfId, selectedThumbnailId };
  const files = row.files.map(
    (f): MediaFile => ({
      id: f.id,
      shelfId: f.shelfId,
      variant: f.variant,
      role: f.role,
      preset: f.preset,
      storage: f.storage,
      name: f.name,
      size: BigInt(f.size),
      mimeType: f.mimeType,
      checksum: f.checksum,
      width: f.width,
      height: f.height,
      durationMs: f.durationMs,
      videoCodec: f.videoCodec,
      audioCodec: f.audioCodec,
      bitrate: f.bitrate,
      frameRate: f.frameRate,
      status: f.status,
      progress: f.progress,
      error: f.error,
      recipe: f.recipe,
      createdAt: new Date(f.createdAt),
    }),
  );
  const relations = row.relations.map(
    (r): ShelfRelation => ({
      id: r.id,
      shelfId: r.shelfId,
      ownerId: r.ownerId,
      model: r.model,
      objectId: r.objectId,
      position: r.position,
      createdAt: new Date(r.createdAt),
    }),
  );
  return { shelf, files, relations };
}

export function encodeCursor(shelf: Pick<Shelf, "createdAt" | "id">): string {
  return Buffer.from(`${shelf.createdAt.toISOString()}|${shelf.id}`).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [iso, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const createdAt = new Date(iso ?? "");
  if (!id || !UUID.test(id) || Number.isNaN(createdAt.getTime())) {
    throw new MediaError("BAD_USER_INPUT", "The cursor is not valid");
  }
  return { createdAt, id };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
