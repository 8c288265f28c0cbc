import type { Resolvers } from "../generated/resolvers.js";

export const mediaFileResolvers: Resolvers = {
  MediaFile: {
    size: (file) => Number(file.size),
    // A private shelf's files get links that expire; the shelf comes from a batched loader.
    url: async (file, _args, { services, loaders }) => {
      const shelf = await loaders.shelfById.load(file.shelfId);
      const expiresIn = shelf?.visibility === "PUBLIC" ? undefined : services.storages.serving(file.storage).expiresIn;
      return services.storages.url(file.storage, file.name, { expiresIn });
    },
  },
};
