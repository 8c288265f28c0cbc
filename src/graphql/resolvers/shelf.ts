import type { MediaFile, Shelf } from "../../media/shelves.js";
import type { Context } from "../context.js";
import type { Resolvers } from "../generated/resolvers.js";
import type { ImageFit, ImageFormat } from "../../transcode/presets.js";
import { mapMaybePromise } from "../loaders.js";

/**
 * A shelf's files: at hand for a listed shelf, else loaded, first noting the shelf itself so
 * its files' fields need no query for it.
 */
function filesOf(shelf: Shelf, loaders: Context["loaders"]): MediaFile[] | Promise<MediaFile[]> {
  const listed = loaders.listed.get(shelf.id);
  if (listed) return listed.files;
  loaders.shelfById.prime(shelf.id, shelf);
  return loaders.filesByShelf.load(shelf.id);
}

function original(shelf: Shelf, _args: unknown, { loaders }: Context): MediaFile | Promise<MediaFile> {
  return mapMaybePromise(filesOf(shelf, loaders), (files) => {
    const file = files.find((f) => f.role === "ORIGINAL");
    if (!file) throw new Error(`Shelf ${shelf.id} has no original`);
    return file;
  });
}

const files = (shelf: Shelf, _args: unknown, { loaders }: Context) => filesOf(shelf, loaders);
const fromOriginal =
  (field: "width" | "height" | "durationMs") =>
  (shelf: Shelf, args: unknown, context: Context): number | null | Promise<number | null> =>
    mapMaybePromise(original(shelf, args, context), (file) => file[field]);

const relations = (shelf: Shelf, _args: unknown, { loaders }: Context) =>
  loaders.listed.get(shelf.id)?.relations ?? loaders.relationsByShelf.load(shelf.id);

/** A list page's files are already loaded: a version among them costs no query. */
async function version(shelf: Shelf, { preset }: { preset: string }, { services, loaders }: Context): Promise<MediaFile> {
  const files = await filesOf(shelf, loaders);
  return services.versions.currentIn(files, shelf.kind, preset) ?? services.versions.version(shelf, preset, files);
}

const common = { original, files, relations, version };

export const shelfResolvers: Resolvers = {
  Shelf: {
    __resolveType: (shelf, { services }) => services.kinds.get(shelf.kind).shelfType as never,
  },
  ImageShelf: {
    ...common,
    width: fromOriginal("width"),
    height: fromOriginal("height"),
    transform: async (shelf, { input }, { services, loaders }) =>
      services.versions.transform(
        shelf,
        {
          ...input,
          fit: input.fit ? (input.fit.toLowerCase() as ImageFit) : undefined,
          format: input.format ? (input.format.toLowerCase() as ImageFormat) : undefined,
        },
        await filesOf(shelf, loaders),
      ),
    thumbnailOf: (shelf, _args, { loaders }) => (shelf.thumbnailOfId ? loaders.shelfById.load(shelf.thumbnailOfId) : null),
  },
  AudioShelf: { ...common, durationMs: fromOriginal("durationMs") },
  VideoShelf: {
    ...common,
    width: fromOriginal("width"),
    height: fromOriginal("height"),
    durationMs: fromOriginal("durationMs"),
    thumbnails: (shelf, _args, { loaders }) => loaders.thumbnailsByVideo.load(shelf.id),
    thumbnail: (shelf, _args, { loaders }) => (shelf.selectedThumbnailId ? loaders.shelfById.load(shelf.selectedThumbnailId) : null),
  },
  DocumentShelf: common,
  ShelfRelation: {
    shelf: async (relation, _args, { loaders }) => {
      const shelf = await loaders.shelfById.load(relation.shelfId);
      if (!shelf) throw new Error(`Relation ${relation.id} has no shelf`);
      return shelf;
    },
  },
};
