import { Prisma, type MediaFile } from "../../db/generated/client.js";
import type { MediaKind } from "../../db/generated/enums.js";
import type { QueueName } from "../../jobs/queue.js";
import { insertMediaFileSql, mediaFileColumns, setMediaFileColumns } from "./media-file.js";

/**
 * The statements every version made runs (insert with its job, start, record) and the one a
 * waiting client runs, each written once here. They run through the driver itself: the ORM's
 * raw path cost more CPU than the statements.
 */

/**
 * Inserts a pending version's row and, in the same statement, its job (`insertJob`, an INSERT …
 * SELECT FROM "file" that takes the new row's id): one round trip where a transaction takes four.
 * Returns a row with the file's createdAt, or none when it inserted nothing (the file exists).
 */
export function insertVersionWithJobSql(row: Omit<MediaFile, "createdAt">, insertJob: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    WITH file AS (${insertMediaFileSql(row)} RETURNING "id", "createdAt"),
    job AS (${insertJob})
    SELECT "createdAt" FROM file`;
}

/** What starting a version reads of its shelf and original, beside the file's own columns. */
export interface StartedRow {
  shelfKind: MediaKind;
  originalStorage: string | null;
  originalName: string | null;
  originalMimeType: string | null;
  originalDurationMs: number | null;
}

/**
 * Marks a version PROCESSING (one being remade keeps READY and serves its old bytes) and reads
 * it with its shelf's kind and original; no row when the version is gone.
 */
export function startVersionSql(fileId: string, reportsProgress: boolean): Prisma.Sql {
  return Prisma.sql`
    WITH file AS (
      UPDATE "MediaFile" AS f SET
        "status" = CASE WHEN f."status" = 'READY' THEN f."status" ELSE 'PROCESSING' END,
        "progress" = CASE WHEN f."status" = 'READY' THEN f."progress" WHEN ${reportsProgress}::boolean THEN 0 ELSE NULL END,
        "error" = CASE WHEN f."status" = 'READY' THEN f."error" ELSE NULL END
      WHERE f."id" = ${fileId}::uuid
      RETURNING ${mediaFileColumns("f")}
    )
    SELECT file.*, s."kind"::text AS "shelfKind", o."storage" AS "originalStorage", o."name" AS "originalName",
      o."mimeType" AS "originalMimeType", o."durationMs" AS "originalDurationMs"
    FROM file
    JOIN "Shelf" s ON s."id" = file."shelfId"
    LEFT JOIN "MediaFile" o ON o."shelfId" = file."shelfId" AND o."role" = 'ORIGINAL'`;
}

/**
 * Records a made version in one statement: the shelf share-locked (a concurrent delete either
 * sees the new name or runs after this and finds nothing), the job completed by `completeJob`
 * (a DELETE … RETURNING that holds only while "shelf" has its row), the row updated with `made`,
 * and a remade version's old bytes (`replaced`) handed to the deletion queue. Returns the row
 * as recorded, or none when the shelf or the job is gone.
 */
export function recordVersionSql(
  file: Pick<MediaFile, "id" | "shelfId">,
  made: Partial<MediaFile>,
  completeJob: (shelfIsThere: Prisma.Sql) => Prisma.Sql,
  replaced: Pick<MediaFile, "storage" | "name"> | null,
): Prisma.Sql {
  return Prisma.sql`
    WITH shelf AS (SELECT 1 FROM "Shelf" WHERE "id" = ${file.shelfId}::uuid FOR SHARE),
    done AS (${completeJob(Prisma.sql`EXISTS (SELECT 1 FROM shelf)`)}),
    file AS (
      UPDATE "MediaFile" AS f SET ${setMediaFileColumns(made)},
        "progress" = CASE WHEN f."progress" IS NULL THEN NULL ELSE 1 END, "error" = NULL
      WHERE f."id" = ${file.id}::uuid AND EXISTS (SELECT 1 FROM done)
      RETURNING ${mediaFileColumns("f")}
    ),
    gone AS (INSERT INTO "StorageDeletion" ("storage", "name") SELECT ${replaced?.storage ?? null}, ${replaced?.name ?? null} FROM file WHERE ${replaced !== null}::boolean)
    SELECT * FROM file`;
}

/**
 * Makes a file's waiting job the next to run (someone waits on it now); returns the job, or
 * none when no job waits (it runs, or is done).
 */
export function prioritizeJobOfFileSql(fileId: string): Prisma.Sql {
  return Prisma.sql`
    UPDATE "Job" SET "priority" = 10, "runAfter" = LEAST("runAfter", now())
    WHERE "fileId" = ${fileId}::uuid AND "lockedBy" IS NULL
    RETURNING "id", "queue"`;
}

export interface PrioritizedJob {
  id: string;
  queue: QueueName;
}

/** Locks a shelf's row until the transaction ends, so checks of its files and the insert after them are one step. */
export function lockShelfSql(shelfId: string): Prisma.Sql {
  return Prisma.sql`SELECT 1 FROM "Shelf" WHERE "id" = ${shelfId}::uuid FOR UPDATE`;
}

/** How many ad-hoc transforms a shelf keeps (their variants start with `prefix`), and whether it has `variant`. */
export function countTransformsSql(shelfId: string, prefix: string, variant: string): Prisma.Sql {
  return Prisma.sql`SELECT count(*)::int AS n, bool_or("variant" = ${variant}) AS has
    FROM "MediaFile" WHERE "shelfId" = ${shelfId}::uuid AND starts_with("variant", ${prefix})`;
}
