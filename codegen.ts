import type { CodegenConfig } from "@graphql-codegen/cli";

// schema.graphql is the source of truth: this generates the resolver types the server is checked
// against and the typed documents the tests send. Run by `npm run generate` (on install and test).
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: "test/documents/*.graphql",
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
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: "string", SafeInt: "number", Upload: "unknown" },
      },
    },
  },
};

export default config;
