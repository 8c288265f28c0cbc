import type { Resolvers } from "../generated/resolvers.js";
import { ownerForShelf } from "./scope.js";

export const mutationResolvers: Resolvers = {
  Mutation: {
    uploadShelf: async (_parent, { input }, { viewer, services }) => {
      const [shelf] = await services.shelves.upload(viewer.ownerId, [input]);
      return shelf!;
    },
    uploadShelves: (_parent, { input }, { viewer, services }) =>
      services.shelves.upload(
        viewer.ownerId,
        input.files.map((file) => ({ file, kind: input.kind, visibility: input.visibility })),
      ),
    updateShelf: async (_parent, { id, input }, { viewer, services }) => {
      const owner = await ownerForShelf(viewer, services, id);
      return services.shelves.update(owner, id, input);
    },
    deleteShelf: async (_parent, { id }, { viewer, services }) => {
      const { deletedFiles } = await services.shelves.delete(await ownerForShelf(viewer, services, id), id);
      return { id, deletedFiles };
    },
    attachShelf: async (_parent, { shelfId, target }, { viewer, services }) =>
      services.relations.attach(await ownerForShelf(viewer, services, shelfId), shelfId, target),
    detachShelf: async (_parent, { shelfId, target }, { viewer, services }) =>
      services.relations.detach(await ownerForShelf(viewer, services, shelfId), shelfId, target),
    reorderRelations: (_parent, { target, shelfIds }, { viewer, services }) => services.relations.reorder(viewer.ownerId, target, shelfIds),
    detachAll: (_parent, { target }, { viewer, services }) => services.relations.detachAll(viewer.ownerId, target),
    selectThumbnail: async (_parent, { videoShelfId, imageShelfId }, { viewer, services }) => {
      const owner = await ownerForShelf(viewer, services, videoShelfId);
      await services.thumbnails.select(owner, videoShelfId, imageShelfId);
      return services.shelves.getOrFail(owner, videoShelfId);
    },
    addVideoThumbnail: async (_parent, { videoShelfId, file }, { viewer, services }) =>
      services.thumbnails.add(await ownerForShelf(viewer, services, videoShelfId), videoShelfId, file),
  },
  DeleteShelfPayload: {
    deleted: () => true,
  },
};
