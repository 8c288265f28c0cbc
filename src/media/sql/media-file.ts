import { Prisma, type MediaFile } from "../../db/generated/client.js";

/**
 * MediaFile's columns in the schema's own order (a column added to the model is read and written
 * here too), with the SQL type each value needs when it arrives as a parameter. Every statement
 * of the hot paths that reads or writes a file row is built from this one list.
 */
export const MEDIA_FILE_COLUMNS = Object.values(Prisma.MediaFileScalarFieldEnum) as Array<keyof MediaFile>;

const CASTS: Partial<Record<keyof MediaFile, string>> = {
  id: "uuid",
  shelfId: "uuid",
  role: '"FileRole"',
  status: '"VersionStatus"',
  size: "bigint",
  width: "int",
  height: "int",
  durationMs: "int",
  bitrate: "int",
  frameRate: "float8",
  progress: "float8",
  createdAt: "timestamptz",
};

/** MediaFile's enum columns, read as text. */
const ENUM_COLUMNS = new Set<string>(["role", "status"]);

/** A parameter for `column`, cast to the column's type (bigints travel as text). */
function param(column: keyof MediaFile, value: unknown): Prisma.Sql {
  const cast = CASTS[column];
  const bound = typeof value === "bigint" ? String(value) : value;
  return cast ? Prisma.sql`${bound}::${Prisma.raw(cast)}` : Prisma.sql`${bound}`;
}

/** The columns to SELECT or RETURN, enums as text, so a row reads back as the MediaFile the typed client returns. */
export function mediaFileColumns(table: string): Prisma.Sql {
  const columns = MEDIA_FILE_COLUMNS.map((column) =>
    ENUM_COLUMNS.has(column) ? `"${table}"."${column}"::text AS "${column}"` : `"${table}"."${column}"`,
  );
  return Prisma.raw(columns.join(", "));
}

/** A row read with `mediaFileColumns`: the driver may hand a bigint over as a number or text. */
export function mediaFileRow(row: MediaFile): MediaFile {
  return typeof row.size === "bigint" ? row : { ...row, size: BigInt(row.size as unknown as string | number) };
}

/** INSERT of one row (every column but createdAt, which the database stamps); nothing where it would break a unique key. */
export function insertMediaFileSql(row: Omit<MediaFile, "createdAt">): Prisma.Sql {
  const columns = MEDIA_FILE_COLUMNS.filter((c) => c !== "createdAt");
  return Prisma.sql`INSERT INTO "MediaFile" (${Prisma.raw(columns.map((c) => `"${c}"`).join(", "))})
    VALUES (${Prisma.join(columns.map((c) => param(c, row[c as keyof typeof row])))})
    ON CONFLICT DO NOTHING`;
}

/** `"column" = value, …` for an UPDATE of `values`' columns. */
export function setMediaFileColumns(values: Partial<MediaFile>): Prisma.Sql {
  const columns = MEDIA_FILE_COLUMNS.filter((c) => c in values);
  return Prisma.join(columns.map((c) => Prisma.sql`${Prisma.raw(`"${c}"`)} = ${param(c, values[c])}`));
}

/** Milliseconds since the epoch: a JSON number, which becomes a Date far more cheaply than a timestamp's text. */
export const epochMs = (column: Prisma.Sql) => Prisma.sql`(extract(epoch FROM ${column}) * 1000)::bigint`;

/** The columns a file's JSON tuple carries: all but its shelf, which is the shelf it is listed in. */
const TUPLE_COLUMNS = MEDIA_FILE_COLUMNS.filter((c) => c !== "shelfId");

/** A file's JSON tuple is positional: these are the positions of the columns that are sorted on. */
export const TUPLE_ROLE = TUPLE_COLUMNS.indexOf("role");
export const TUPLE_CREATED_AT = TUPLE_COLUMNS.indexOf("createdAt");

/** A file as a JSON array of its columns (sizes as text, times as epoch ms), for statements that return JSON. */
export function mediaFileTuple(table: string): Prisma.Sql {
  return Prisma.sql`json_build_array(${Prisma.join(
    TUPLE_COLUMNS.map((c) => {
      const column = Prisma.raw(`${table}."${c}"`);
      return c === "size" ? Prisma.sql`${column}::text` : c === "createdAt" ? epochMs(column) : column;
    }),
  )})`;
}

/** A file tuple as `mediaFileTuple` built it; every value is JSON. */
export type MediaFileTuple = unknown[];

/** The file a tuple of `mediaFileTuple` holds, on shelf `shelfId`. */
export function mediaFileFromTuple(tuple: MediaFileTuple, shelfId: string): MediaFile {
  const file: Record<string, unknown> = { shelfId };
  for (let i = 0; i < TUPLE_COLUMNS.length; i++) file[TUPLE_COLUMNS[i]!] = tuple[i];
  file.size = BigInt(file.size as string);
  file.createdAt = new Date(file.createdAt as number);
  return file as unknown as MediaFile;
}
