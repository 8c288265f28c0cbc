import type { Resolvers } from "../generated/resolvers.js";

export const mutationResolvers: Resolvers = {
  Mutation: {
    uploadShelf: async (_parent, { input }, { viewer, services }) => {
      const [shelf] = await services.shelves.upload(viewer.ownerId, [input]);
      return shelf!;
    },
    uploadShelves: (_parent, { input }, { viewer, services }) =>
      services.shelves.upload(
        viewer.ownerId,
        input.files.map((file) => ({ file, kind: input.kind })),
      ),
    updateShelf: (_parent, { id, input }, { viewer, services }) =>
      input.title == null ? services.shelves.getOrFail(viewer.ownerId, id) : services.shelves.updateTitle(viewer.ownerId, id, input.title),
    deleteShelf: async (_parent, { id }, { viewer, services }) => {
      const { deletedFiles } = await services.shelves.delete(viewer.ownerId, id);
      return { id, deletedFiles };
    },
    attachShelf: (_parent, { shelfId, target }, { viewer, services }) => services.relations.attach(viewer.ownerId, shelfId, target),
    detachShelf: (_parent, { shelfId, target }, { viewer, services }) => services.relations.detach(viewer.ownerId, shelfId, target),
    reorderRelations: (_parent, { target, shelfIds }, { viewer, services }) => services.relations.reorder(viewer.ownerId, target, shelfIds),
    detachAll: (_parent, { target }, { viewer, services }) => services.relations.detachAll(viewer.ownerId, target),
  },
  DeleteShelfPayload: {
    deleted: () => true,
  },
};
