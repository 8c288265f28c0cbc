import { encodeCursor } from "../../media/shelves.js";
import type { Resolvers } from "../generated/resolvers.js";

export const queryResolvers: Resolvers = {
  Query: {
    viewer: (_parent, _args, { viewer }) => ({ ownerId: viewer.ownerId }),
    shelf: (_parent, { id }, { viewer, services }) => services.shelves.get(viewer.ownerId, id),
    mediaKinds: (_parent, _args, { services }) => [...services.kinds.all()],
    shelvesFor: (_parent, { target, kind }, { viewer, services }) => services.relations.shelvesFor(viewer.ownerId, target, kind),
  },
  Viewer: {
    id: ({ ownerId }) => ownerId,
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
  },
};
