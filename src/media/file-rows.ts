import { Prisma, type MediaFile } from "../db/generated/client.js";

/** MediaFile's enum columns, read as text. */
const ENUM_COLUMNS = new Set<string>(["role", "status"]);

/**
 * A MediaFile's columns for statements written in SQL, taken from the schema's own field list
 * (a column added to the model is read here too), enums as text, so that a row reads back as the
 * MediaFile the typed client returns. The hot paths of versions (starting a job, recording it,
 * serving a file by name) are each one statement written this way.
 */
export function mediaFileColumns(table: string): Prisma.Sql {
  const columns = Object.values(Prisma.MediaFileScalarFieldEnum).map((column) =>
    ENUM_COLUMNS.has(column) ? `"${table}"."${column}"::text AS "${column}"` : `"${table}"."${column}"`,
  );
  return Prisma.raw(columns.join(", "));
}

/** A row read with `mediaFileColumns`: the driver may hand a bigint over as a number or text. */
export function mediaFileRow(row: MediaFile): MediaFile {
  return typeof row.size === "bigint" ? row : { ...row, size: BigInt(row.size as unknown as string | number) };
}
