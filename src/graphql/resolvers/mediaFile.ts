import type { Resolvers } from "../generated/resolvers.js";

export const mediaFileResolvers: Resolvers = {
  MediaFile: {
    size: (file) => Number(file.size),
    url: (file, _args, { services }) => services.storages.url(file.storage, file.name),
  },
};
