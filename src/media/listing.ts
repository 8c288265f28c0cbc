import type { Database } from "../db/client.js";
import type { MediaKind, Visibility } from "../db/generated/enums.js";
import { Prisma } from "../db/generated/client.js";
import { MediaError } from "../errors.js";
import { epochMs as ms, mediaFileFromTuple, mediaFileTuple, TUPLE_CREATED_AT, TUPLE_ROLE, type MediaFileTuple } from "./sql/media-file.js";
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
 * The reads of shelves for the API (the library page, a record's shelves, one shelf by id), each
 * one SQL statement that returns the shelves with their files and relations as JSON. They are
 * the service's hottest reads, and one statement costs far less than a query per table through
 * the ORM; they run through the driver itself (Database.query). The same SQL runs on PGlite and
 * PostgreSQL.
 */
export class ShelfListing {
  constructor(
    private readonly db: Pick<Database, "prisma" | "query">,
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
    const rows = await this.db.query<Row>(Prisma.sql`
      SELECT ${LISTED} AS listed
      FROM "Shelf" s
      WHERE ${filter} ${after}
      ORDER BY s."createdAt" DESC, s.id DESC
      LIMIT ${first + 1}`);
    return {
      shelves: rows.slice(0, first).map(listed),
      hasNextPage: rows.length > first,
      totalCount: async () => {
        const [row] = await this.db.prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM "Shelf" s WHERE ${filter}`;
        return row?.n ?? 0;
      },
    };
  }

  /** One of the owner's shelves, or null (also for an id that is not one). */
  async one(ownerId: string, id: string): Promise<ListedShelf | null> {
    if (!UUID.test(id)) return null;
    const rows = await this.db.query<Row>(Prisma.sql`
      SELECT ${LISTED} AS listed FROM "Shelf" s WHERE s.id = ${id}::uuid AND s."ownerId" = ${ownerId}`);
    return rows[0] ? listed(rows[0]) : null;
  }

  /** The owner's shelves attached to a record, in the record's order. */
  async shelvesFor(ownerId: string, target: RelationTarget, kind?: MediaKind | null): Promise<ListedShelf[]> {
    const { model, objectId } = this.relations.validate(target);
    const rows = await this.db.query<Row>(Prisma.sql`
      SELECT ${LISTED} AS listed
      FROM "ShelfRelation" t
      JOIN "Shelf" s ON s.id = t."shelfId"
      WHERE t."ownerId" = ${ownerId} AND t.model = ${model} AND t."objectId" = ${objectId}
        ${kind ? Prisma.sql`AND s.kind = ${kind}::"MediaKind"` : Prisma.empty}
      ORDER BY t.position, t."createdAt"`);
    return rows.map(listed);
  }
}

/**
 * A listed shelf as one JSON array, its files and relations as arrays inside it: positional
 * rather than keyed, so the driver carries and parses a third of the text, one value per row.
 * The positions are those of the tuples below (a file's are MediaFile's columns, see
 * sql/media-file.ts); a file's and a relation's shelf is the shelf.
 */
const LISTED = Prisma.sql`json_build_array(
  s.id, s."ownerId", s.kind, s.title, s.visibility, ${ms(Prisma.sql`s."createdAt"`)}, ${ms(Prisma.sql`s."updatedAt"`)},
  s."thumbnailOfId", s."selectedThumbnailId",
  COALESCE((
    SELECT json_agg(${mediaFileTuple("f")})
    FROM "MediaFile" f WHERE f."shelfId" = s.id), '[]'::json),
  COALESCE((
    SELECT json_agg(json_build_array(r.id, r."ownerId", r.model, r."objectId", r.position, ${ms(Prisma.sql`r."createdAt"`)})
      ORDER BY r.model, r."objectId")
    FROM "ShelfRelation" r WHERE r."shelfId" = s.id), '[]'::json)
)`;

type RelationTuple = [id: string, ownerId: string, model: string, objectId: string, position: number, createdAt: number];
type ShelfTuple = [
  id: string, ownerId: string, kind: MediaKind, title: string, visibility: Visibility, createdAt: number, updatedAt: number,
  thumbnailOfId: string | null, selectedThumbnailId: string | null, files: MediaFileTuple[], relations: RelationTuple[],
];

interface Row {
  listed: ShelfTuple;
}

// Every field of a shelf and a relation is named, so a column added to the schema fails the type check here until it is read.
function listed({ listed: row }: Row): ListedShelf {
  const [id, ownerId, kind, title, visibility, createdAt, updatedAt, thumbnailOfId, selectedThumbnailId, fileRows, relationRows] = row;
  const shelf: Shelf = {
    id, ownerId, kind, title, visibility, createdAt: new Date(createdAt), updatedAt: new Date(updatedAt), thumbnailOfId, selectedThumbnailId,
  };
  const files = inFileOrder(fileRows).map((f) => mediaFileFromTuple(f, id));
  const relations = relationRows.map(
    (r): ShelfRelation => ({ id: r[0], shelfId: id, ownerId: r[1], model: r[2], objectId: r[3], position: r[4], createdAt: new Date(r[5]) }),
  );
  return { shelf, files, relations };
}

/** FileRole in the order PostgreSQL sorts it (the enum's). */
const ROLE_ORDER: Record<MediaFile["role"], number> = { ORIGINAL: 0, VERSION: 1 };

/**
 * Originals first, then versions, oldest first: sorted here rather than in the statement,
 * where every shelf's aggregate set up a sort of its own for what is mostly one file.
 */
function inFileOrder(files: MediaFileTuple[]): MediaFileTuple[] {
  if (files.length < 2) return files;
  const role = (f: MediaFileTuple) => ROLE_ORDER[f[TUPLE_ROLE] as MediaFile["role"]];
  return files.sort((a, b) => role(a) - role(b) || (a[TUPLE_CREATED_AT] as number) - (b[TUPLE_CREATED_AT] as number));
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
