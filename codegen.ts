import type { CodegenConfig } from "@graphql-codegen/cli";
import { clientPresetTarget } from "./client/src/codegen.js";

// schema.graphql is the source of truth: this generates the resolver types the server is checked
// against, the typed documents the tests send, and the client kit's documents (with the scalar
// mappings client teams use: client/src/codegen.ts). Run by `npm run generate` (on install and test).
const config: CodegenConfig = {
  schema: "schema.graphql",
  emitLegacyCommonJSImports: false,
  generates: {
    "src/graphql/generated/resolvers.ts": {
      plugins: ["typescript", "typescript-resolvers"],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        contextType: "../context.js#Context",
        scalars: {
          DateTime: "Date",
          SafeInt: "number",
          Upload: "Promise<import('../../media/staging.js').IncomingFile>",
        },
        mappers: {
          Shelf: "../../media/shelves.js#ShelfModel",
          ImageShelf: "../../media/shelves.js#ShelfModel",
          AudioShelf: "../../media/shelves.js#ShelfModel",
          VideoShelf: "../../media/shelves.js#ShelfModel",
          DocumentShelf: "../../media/shelves.js#ShelfModel",
          MediaFile: "../../media/shelves.js#MediaFileModel",
          ShelfRelation: "../../media/relations.js#ShelfRelationModel",
          ShelfConnection: "../context.js#ShelfConnectionParent",
          ShelfEdge: "../context.js#ShelfEdgeParent",
          Library: "../context.js#LibraryParent",
          Viewer: "../context.js#LibraryParent",
          MediaKindInfo: "../../media/kinds.js#KindSpec",
          DeleteShelfPayload: "../context.js#DeleteShelfResult",
          ShelfUpdate: "../../events/bus.js#ShelfEvent",
        },
      },
    },
    "test/generated/graphql.ts": {
      documents: "test/documents/*.graphql",
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: "string", SafeInt: "number", Upload: "unknown" },
      },
    },
    // The client kit: typed documents for the common operations and persisted-documents.json,
    // the manifest a server loads with PERSISTED_OPERATIONS.
    "client/src/generated/": clientPresetTarget({ documents: "client/documents/*.graphql" }),
  },
};

export default config;
