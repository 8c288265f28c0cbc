import { Prisma, type MediaFile } from "../db/generated/client.js";

/**
 * A MediaFile's columns for statements written in SQL, with enums read as text, so that a row
 * reads back as the MediaFile the typed client returns. The hot paths of versions (starting a
 * job, recording it, serving a file by name) are each one statement written this way.
 */
export function mediaFileColumns(table: string): Prisma.Sql {
  const t = Prisma.raw(`"${table}"`);
  return Prisma.sql`${t}."id", ${t}."shelfId", ${t}."variant", ${t}."role"::text AS "role", ${t}."preset", ${t}."storage", ${t}."name",
    ${t}."size", ${t}."mimeType", ${t}."checksum", ${t}."width", ${t}."height", ${t}."durationMs", ${t}."videoCodec",
    ${t}."audioCodec", ${t}."bitrate", ${t}."frameRate", ${t}."status"::text AS "status", ${t}."progress", ${t}."error",
    ${t}."recipe", ${t}."createdAt"`;
}

/** A row read with `mediaFileColumns`: the driver may hand a bigint over as a number or text. */
export function mediaFileRow(row: MediaFile): MediaFile {
  return typeof row.size === "bigint" ? row : { ...row, size: BigInt(row.size as unknown as string | number) };
}
