import { encodeCursor, type ListedShelf } from "../../media/listing.js";
import type { Shelf } from "../../media/shelves.js";
import type { Context } from "../context.js";
import type { Resolvers } from "../generated/resolvers.js";
import { libraryFor, ownerForShelf } from "./scope.js";

/**
 * Hands the files and relations read with a listed shelf to this request's loaders, so the
 * shelf's fields resolve without another query.
 */
function primed({ shelf, files, relations }: ListedShelf, loaders: Context["loaders"]): Shelf {
  loaders.shelfById.prime(shelf.id, shelf);
  loaders.filesByShelf.prime(shelf.id, files);
  loaders.relationsByShelf.prime(shelf.id, relations);
  return shelf;
}

export const queryResolvers: Resolvers = {
  Query: {
    viewer: (_parent, _args, { viewer }) => ({ ownerId: viewer.ownerId, admin: viewer.admin }),
    library: (_parent, { ownerId }, { viewer }) => libraryFor(viewer, ownerId),
    shelf: async (_parent, { id }, { viewer, services }) => services.shelves.get(await ownerForShelf(viewer, services, id), id),
    mediaKinds: (_parent, _args, { services }) => [...services.kinds.all()],
    shelvesFor: async (_parent, { target, kind }, { viewer, services, loaders }) =>
      (await services.listing.shelvesFor(viewer.ownerId, target, kind)).map((listed) => primed(listed, loaders)),
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
      const edges = page.shelves.map((listed) => {
        const node = primed(listed, loaders);
        return { cursor: encodeCursor(node), node };
      });
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
  ShelfConnection: {
    totalCount: (connection) => connection.totalCount(),
  },
  MediaKindInfo: {
    formats: (spec) => spec.formats.map((f) => ({ mimeType: f.mimeType, extension: f.extension })),
    presets: (spec, _args, { services }) => services.versions.presetsOf(spec.kind),
  },
};
