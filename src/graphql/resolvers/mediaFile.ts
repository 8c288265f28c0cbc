import type { MediaFile, Shelf } from "../../media/shelves.js";
import type { Context } from "../context.js";
import type { Resolvers } from "../generated/resolvers.js";

export const mediaFileResolvers: Resolvers = {
  MediaFile: {
    // Size and checksum describe bytes, which a version has only once it is READY.
    size: (file) => (file.status === "READY" ? Number(file.size) : null),
    checksum: (file) => (file.status === "READY" ? file.checksum : null),
    stale: async (file, _args, { services, loaders }) => {
      const shelf = file.role === "VERSION" ? await loaders.shelfById.load(file.shelfId) : null;
      return shelf ? services.versions.isStale(file, shelf.kind) : false;
    },
    // A private shelf's files get links that expire; the shelf is at hand on a list page, or
    // comes from a batched loader.
    url: (file, _args, { services, loaders }) => {
      const listed = loaders.listed.get(file.shelfId);
      if (listed) return link(file, listed.shelf, services);
      return loaders.shelfById.load(file.shelfId).then((shelf) => link(file, shelf, services));
    },
  },
};

function link(file: MediaFile, shelf: Shelf | null, services: Context["services"]): string | Promise<string> {
  const expiresIn = shelf?.visibility === "PUBLIC" ? undefined : services.storages.serving(file.storage).expiresIn;
  return services.storages.url(file.storage, file.name, { expiresIn });
}
