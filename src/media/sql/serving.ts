import { Prisma, type MediaFile } from "../../db/generated/client.js";
import type { MediaKind, Visibility } from "../../db/generated/enums.js";
import { mediaFileColumns, mediaFileRow } from "./media-file.js";

/** A file with what serving it needs of its shelf. */
export type ServedFile = MediaFile & { shelf: { visibility: Visibility; kind: MediaKind } };

/** The file stored under `name` in `storage`. */
export const byStoredName = (storage: string, name: string) => Prisma.sql`f."storage" = ${storage} AND f."name" = ${name}`;

/** A shelf's file of `variant`. */
export const byVariant = (shelfId: string, variant: string) => Prisma.sql`f."shelfId" = ${shelfId}::uuid AND f."variant" = ${variant}`;

/** The file `where` finds, with its shelf's visibility and kind, in one statement: the media route runs it on every request. */
export function servedFileSql(where: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    SELECT ${mediaFileColumns("f")}, s."visibility"::text AS "shelfVisibility", s."kind"::text AS "shelfKind"
    FROM "MediaFile" f JOIN "Shelf" s ON s."id" = f."shelfId"
    WHERE ${where}`;
}

export type ServedFileRow = MediaFile & { shelfVisibility: Visibility; shelfKind: MediaKind };

export function servedFile({ shelfVisibility, shelfKind, ...file }: ServedFileRow): ServedFile {
  return { ...mediaFileRow(file), shelf: { visibility: shelfVisibility, kind: shelfKind } };
}
