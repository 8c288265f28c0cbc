import type { MediaKind, Visibility } from "../db/generated/enums.js";
import type { MediaFile, Shelf } from "../db/generated/client.js";
import type { DirectQuery, PrismaClient, Transaction } from "../db/client.js";
import type { StorageRegistry } from "../storage/registry.js";
import type { DeletionQueue } from "./deletions.js";
import { StorageError } from "../storage/contract.js";
import { MediaError } from "../errors.js";
import { servedFileByName } from "./served-files.js";
import type { ServedFile } from "./sql/serving.js";
import { cleanTitle, infoColumns, stageUpload, uploadReadError, type IncomingFile, type StagedFile, type StagingOptions } from "./staging.js";
import type { KindRegistry } from "./kinds.js";
import type { RelationService, RelationTarget } from "./relations.js";
import type { VersionService } from "./versions/index.js";

export type { MediaFile, Shelf };
/** Names the GraphQL resolver types map the Shelf and MediaFile types to. */
export type ShelfModel = Shelf;
export type MediaFileModel = MediaFile;

export const ORIGINAL_VARIANT = "original";
/** Longest storage name recorded; S3 keys and most file systems' paths allow about 1024. */
const MAX_NAME_LENGTH = 512;

export interface UploadRequest {
  file: IncomingFile | Promise<IncomingFile>;
  kind?: MediaKind | null;
  title?: string | null;
  visibility?: Visibility | null;
  /** A record to attach the new shelf to, in the same transaction. */
  attachTo?: RelationTarget | null;
}

/** Makes the uploaded images poster frames of a video, and says which becomes its selected one. */
export interface ThumbnailOf {
  videoId: string;
  /** "always": the first new frame is selected; "if-none": only when the video has no selection. */
  select: "always" | "if-none";
  /** Runs last in the transaction that records the frames (the poster job removes itself there). */
  inTransaction?: (tx: Transaction) => Promise<void>;
}

export interface ShelfServiceDeps {
  prisma: PrismaClient;
  /** The driver itself, for serving files by name (see `Database.query`). */
  query: DirectQuery;
  storages: StorageRegistry;
  kinds: KindRegistry;
  deletions: DeletionQueue;
  relations: RelationService;
  versions: Pick<VersionService, "planEager">;
  /** Tells this process's workers that a queue has new work. */
  notifyWork: (queue: "image" | "av") => void;
  staging: Omit<StagingOptions, "storages" | "kinds">;
}

/** One owner's shelves: upload, read, rename, delete. Every method is scoped to `ownerId`. */
export class ShelfService {
  constructor(private readonly deps: ShelfServiceDeps) {}

  /**
   * Uploads files as new shelves, all or none. Every file is staged at once: the client decides
   * the order of the parts, and a part nobody reads would hold back the ones behind it. Then one
   * transaction records every shelf and promotes every file.
   */
  async upload(ownerId: string, requests: UploadRequest[], placement: { thumbnailOf?: ThumbnailOf } = {}): Promise<Shelf[]> {
    // A bad target is refused before any byte is stored.
    const targets = requests.map((r) => (r.attachTo ? this.deps.relations.validate(r.attachTo) : undefined));
    const options = { ...this.deps.staging, kinds: this.deps.kinds, storages: this.deps.storages };
    const results = await Promise.allSettled(
      requests.map(async (request) => {
        const file = await Promise.resolve(request.file).catch((err: unknown) => Promise.reject(uploadReadError(err)));
        return stageUpload(file, { ownerId, kind: request.kind ?? undefined, title: request.title }, options);
      }),
    );
    const staged = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    try {
      const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failure) throw failure.reason;
      this.checkFileCounts(staged);
      return await this.record(
        ownerId,
        staged,
        staged.map((_, i) => ({ target: targets[i], visibility: requests[i]?.visibility ?? "PRIVATE" })),
        placement.thumbnailOf,
      );
    } catch (err) {
      await Promise.all(staged.map((s) => this.deps.storages.get(s.storageAlias).delete(s.stagedName).catch(() => {})));
      throw err;
    }
  }

  /**
   * Promotes each staged object to its final name, then inserts the rows in one short
   * transaction (no storage work holds it open). If that fails, the promoted objects are removed,
   * but only once the rows are known not to exist (a commit whose reply was lost still counts);
   * a crash in between leaves an orphan for `gc`, never a row without bytes.
   */
  private async record(
    ownerId: string,
    staged: StagedFile[],
    extras: Array<{ target?: RelationTarget; visibility: Visibility }>,
    thumbnailOf?: ThumbnailOf,
  ): Promise<Shelf[]> {
    const promoted: Array<{ alias: string; name: string }> = [];
    const finalNames = new Map<string, string>();
    try {
      for (const s of staged) {
        const name = await this.promote(s);
        promoted.push({ alias: s.storageAlias, name });
        finalNames.set(s.fileId, name);
      }
      const queues = new Set<"image" | "av">();
      const shelves = await this.deps.prisma.$transaction(async (tx) => {
        // The video is share-locked, so its delete waits for these frames (and then takes them)
        // or has already happened (and these fail to insert).
        if (thumbnailOf) await this.lockVideo(tx, ownerId, thumbnailOf.videoId);
        const shelves: Shelf[] = [];
        for (const [i, s] of staged.entries()) {
          shelves.push(
            await tx.shelf.create({
            data: {
              id: s.shelfId,
              ownerId,
              kind: s.kind,
              title: s.title,
              visibility: extras[i]!.visibility,
              thumbnailOfId: thumbnailOf?.videoId ?? null,
              files: {
                create: {
                  id: s.fileId,
                  variant: ORIGINAL_VARIANT,
                  role: "ORIGINAL",
                  storage: s.storageAlias,
                  name: finalNames.get(s.fileId)!,
                  size: BigInt(s.size),
                  mimeType: s.format.mimeType,
                  checksum: s.checksum,
                  ...infoColumns(s.info),
                  status: "READY",
                },
              },
            },
          }),
          );
          const target = extras[i]!.target;
          if (target) await this.deps.relations.attach(ownerId, s.shelfId, target, tx);
          for (const queue of await this.deps.versions.planEager(tx, shelves[i]!)) queues.add(queue);
        }
        if (thumbnailOf && shelves[0]) {
          await tx.shelf.updateMany({
            where: { id: thumbnailOf.videoId, ...(thumbnailOf.select === "if-none" ? { selectedThumbnailId: null } : {}) },
            data: { selectedThumbnailId: shelves[0].id },
          });
        }
        await thumbnailOf?.inTransaction?.(tx);
        return shelves;
      });
      for (const queue of queues) this.deps.notifyWork(queue);
      return shelves;
    } catch (err) {
      const committed = await this.deps.prisma.mediaFile
        .count({ where: { id: { in: staged.map((s) => s.fileId) } } })
        .catch(() => undefined);
      if (committed === 0) {
        await Promise.all(promoted.map((p) => this.deps.storages.get(p.alias).delete(p.name).catch(() => {})));
      }
      throw err;
    }
  }

  private async lockVideo(tx: Transaction, ownerId: string, videoId: string): Promise<void> {
    const rows = isUuid(videoId)
      ? await tx.$queryRaw<Array<{ kind: string }>>`SELECT "kind"::text AS "kind" FROM "Shelf" WHERE "id" = ${videoId}::uuid AND "ownerId" = ${ownerId} FOR SHARE`
      : [];
    if (rows[0]?.kind !== "VIDEO") throw new MediaError("NOT_FOUND", `No video shelf with id ${JSON.stringify(videoId)}`);
  }

  /** Refuses a request with more files of a kind than the kind allows in one upload. */
  private checkFileCounts(staged: StagedFile[]): void {
    for (const spec of this.deps.kinds.all()) {
      const count = staged.filter((s) => s.kind === spec.kind).length;
      if (spec.maxFilesPerUpload !== undefined && count > spec.maxFilesPerUpload) {
        throw new MediaError("BAD_USER_INPUT", `${count} ${spec.kind} files in one upload; at most ${spec.maxFilesPerUpload} are allowed`);
      }
    }
  }

  /**
   * Moves a staged object to its final name, or to an alternative when an upload route that can
   * repeat (say "{owner}/{name}.{ext}") gives a name already taken; returns the name used.
   */
  private async promote(s: StagedFile): Promise<string> {
    const storage = this.deps.storages.get(s.storageAlias);
    for (let attempt = 0; ; attempt++) {
      const name = await storage.getAvailableName(s.finalName, MAX_NAME_LENGTH);
      try {
        await storage.move(s.stagedName, name);
        return name;
      } catch (err) {
        if (!(err instanceof StorageError && err.code === "EXISTS") || attempt >= 5) throw err;
      }
    }
  }

  async get(ownerId: string, id: string): Promise<Shelf | null> {
    if (!isUuid(id)) return null;
    return this.deps.prisma.shelf.findFirst({ where: { id, ownerId } });
  }

  /** The owner of a shelf, or null: lets an admin act on any library. */
  async ownerOf(id: string): Promise<string | null> {
    if (!isUuid(id)) return null;
    const shelf = await this.deps.prisma.shelf.findUnique({ where: { id }, select: { ownerId: true } });
    return shelf?.ownerId ?? null;
  }

  async getOrFail(ownerId: string, id: string): Promise<Shelf> {
    const shelf = await this.get(ownerId, id);
    if (!shelf) throw notFound(id);
    return shelf;
  }

  async update(ownerId: string, id: string, changes: { title?: string | null; visibility?: Visibility | null }): Promise<Shelf> {
    const data = {
      ...(changes.title != null ? { title: cleanTitle(changes.title) } : {}),
      ...(changes.visibility != null ? { visibility: changes.visibility } : {}),
    };
    // One conditional statement, so a concurrent delete gives NOT_FOUND rather than an error.
    const { count } = isUuid(id) ? await this.deps.prisma.shelf.updateMany({ where: { id, ownerId }, data }) : { count: 0 };
    if (count === 0) throw notFound(id);
    // A video's poster frames are seen as it is: private with it, public with it.
    if (changes.visibility != null) {
      await this.deps.prisma.shelf.updateMany({ where: { thumbnailOfId: id, ownerId }, data: { visibility: changes.visibility } });
    }
    return this.getOrFail(ownerId, id);
  }

  /**
   * Removes the shelf and its file rows and records every stored object for deletion in the same
   * transaction; the objects go after the commit, retried until done, so a rolled-back delete
   * keeps its files and a committed one loses every byte even if storage is down right now.
   */
  async delete(ownerId: string, id: string): Promise<{ deletedFiles: number }> {
    if (!isUuid(id)) throw notFound(id);
    const deletedFiles = await this.deps.prisma.$transaction(async (tx) => {
      // Touching the row first locks it: a concurrent delete waits and then finds nothing, and no
      // file row can be added to the shelf between reading its files and removing them.
      const { count } = await tx.shelf.updateMany({ where: { id, ownerId }, data: { updatedAt: new Date() } });
      if (count === 0) throw notFound(id);
      // Its poster frames too: a frame's version recorded meanwhile then waits for this delete.
      await tx.$queryRaw`SELECT 1 FROM "Shelf" WHERE "thumbnailOfId" = ${id}::uuid FOR UPDATE`;
      // The shelf's files and its poster frames' files; the frames' rows go with it (cascade).
      const files = await tx.mediaFile.findMany({
        where: { OR: [{ shelfId: id }, { shelf: { thumbnailOfId: id } }] },
        select: { storage: true, name: true },
      });
      await tx.shelf.delete({ where: { id } });
      await tx.storageDeletion.createMany({ data: files.map((f) => ({ storage: f.storage, name: f.name })) });
      return files.length;
    });
    this.deps.deletions.notifyWork();
    return { deletedFiles };
  }

  /** The file stored under `name` in `storage`, whoever owns it (see servedFileByName). */
  fileByName(storage: string, name: string): Promise<ServedFile | null> {
    return servedFileByName(this.deps.query, storage, name);
  }

  /** Shelves by id in one query (the DataLoader batch function); null where there is none. */
  async byIds(ids: readonly string[]): Promise<Array<Shelf | null>> {
    const rows = await this.deps.prisma.shelf.findMany({ where: { id: { in: ids.filter(isUuid) } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Files of many shelves in one query: the DataLoader batch function. */
  async filesOf(shelfIds: readonly string[]): Promise<MediaFile[][]> {
    const files = await this.deps.prisma.mediaFile.findMany({
      where: { shelfId: { in: [...shelfIds] } },
      orderBy: [{ role: "asc" }, { createdAt: "asc" }],
    });
    const byShelf = new Map<string, MediaFile[]>(shelfIds.map((id) => [id, []]));
    for (const file of files) byShelf.get(file.shelfId)?.push(file);
    return shelfIds.map((id) => byShelf.get(id) ?? []);
  }
}

function notFound(id: string): MediaError {
  return new MediaError("NOT_FOUND", `No shelf with id ${JSON.stringify(id)}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function isUuid(value: string): boolean {
  return UUID.test(value);
}
