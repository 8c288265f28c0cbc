import { encodeCursor } from "../../media/shelves.js";
import type { Resolvers } from "../generated/resolvers.js";
import { libraryFor, ownerForShelf } from "./scope.js";

export const queryResolvers: Resolvers = {
  Query: {
    viewer: (_parent, _args, { viewer }) => ({ ownerId: viewer.ownerId, admin: viewer.admin }),
    library: (_parent, { ownerId }, { viewer }) => libraryFor(viewer, ownerId),
    shelf: async (_parent, { id }, { viewer, services }) => services.shelves.get(await ownerForShelf(viewer, services, id), id),
    mediaKinds: (_parent, _args, { services }) => [...services.kinds.all()],
    shelvesFor: (_parent, { target, kind }, { viewer, services }) => services.relations.shelvesFor(viewer.ownerId, target, kind),
  },
  Viewer: {
    id: ({ ownerId }) => ownerId,
    admin: ({ admin }) => admin ?? false,
    library: ({ ownerId }) => ({ ownerId }),
  },
  Library: {
    ownerId: ({ ownerId }) => ownerId,
    shelfSet: async ({ ownerId }, { kind, relatedTo, first, after }, { services }) => {
      const page = await services.shelves.list(ownerId, { kind, relatedTo, first, after });
      const edges = page.shelves.map((node) => ({ cursor: encodeCursor(node), node }));
      return {
        edges,
        totalCount: page.totalCount,
        pageInfo: {
          hasNextPage: page.hasNextPage,
          hasPreviousPage: Boolean(after),
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  },
  MediaKindInfo: {
    formats: (spec) => spec.formats.map((f) => ({ mimeType: f.mimeType, extension: f.extension })),
    presets: (spec, _args, { services }) => services.versions.presetsOf(spec.kind),
  },
};
