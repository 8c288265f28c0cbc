import { encodeCursor } from "../../media/listing.js";
import type { Resolvers } from "../generated/resolvers.js";
import { rememberListed } from "../loaders.js";
import { libraryFor, ownerForShelf } from "./scope.js";

/**
 * Notes a listed shelf, with the files and relations read with it, for this request, so the
 * shelf's fields resolve without another query.
 */
export const queryResolvers: Resolvers = {
  Query: {
    viewer: (_parent, _args, { viewer }) => ({ ownerId: viewer.ownerId, admin: viewer.admin }),
    library: (_parent, { ownerId }, { viewer }) => libraryFor(viewer, ownerId),
    shelf: async (_parent, { id }, { viewer, services, loaders }) => {
      const found = await services.listing.one(await ownerForShelf(viewer, services, id), id);
      return found && rememberListed(found, loaders);
    },
    mediaKinds: (_parent, _args, { services }) => [...services.kinds.all()],
    shelvesFor: async (_parent, { target, kind }, { viewer, services, loaders }) =>
      (await services.listing.shelvesFor(viewer.ownerId, target, kind)).map((listed) => rememberListed(listed, loaders)),
  },
  Viewer: {
    id: ({ ownerId }) => ownerId,
    admin: ({ admin }) => admin ?? false,
    library: ({ ownerId }) => ({ ownerId }),
  },
  Library: {
    ownerId: ({ ownerId }) => ownerId,
    shelfSet: async ({ ownerId }, { kind, relatedTo, first, after }, { services, loaders }) => {
      const page = await services.listing.page(ownerId, { kind, relatedTo, first, after });
      const edges = page.shelves.map((listed) => ({ node: rememberListed(listed, loaders) }));
      const [start, end] = [edges[0]?.node, edges.at(-1)?.node];
      return {
        edges,
        totalCount: page.totalCount,
        pageInfo: {
          hasNextPage: page.hasNextPage,
          hasPreviousPage: Boolean(after),
          startCursor: start ? encodeCursor(start) : null,
          endCursor: end ? encodeCursor(end) : null,
        },
      };
    },
  },
  ShelfConnection: {
    totalCount: (connection) => connection.totalCount(),
  },
  // Made only when asked for: most pages do not show their edges' cursors.
  ShelfEdge: {
    cursor: ({ node }) => encodeCursor(node),
  },
  MediaKindInfo: {
    formats: (spec) => spec.formats.map((f) => ({ mimeType: f.mimeType, extension: f.extension })),
    presets: (spec, _args, { services }) => services.versions.presetsOf(spec.kind),
  },
};
