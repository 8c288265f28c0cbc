/**
 * What a frontend's GraphQL Code Generator needs to type this service's custom scalars. Spread
 * into a client-preset target, no scalar is left `unknown`:
 *
 *   import { clientPresetTarget } from "@medialibrary/client/codegen";
 *   generates: { "src/gql/": clientPresetTarget({ documents: ["src/**\/*.graphql"] }) }
 */

/** Input and output types per scalar, as the client preset reads them. */
export const scalars = {
  /** RFC 3339 date-time text, e.g. 2026-12-06T21:39:25.000Z. */
  DateTime: { input: "string", output: "string" },
  /** A JSON number within JavaScript's safe integer range (sizes over 2 GiB fit). */
  SafeInt: { input: "number", output: "number" },
  /** A file part of a multipart request; it never appears in results. */
  Upload: { input: "File | Blob", output: "never" },
} as const;

export interface ClientPresetOptions {
  /** The frontend's own operations (globs or paths). */
  documents: string | string[];
  /** Where schema.graphql is (a path or URL); defaults to the service's own file in this package's repository. */
  schema?: string;
  /** Keep fragment masking (the preset's default); off by default so results read as plain objects. */
  fragmentMasking?: boolean;
  /** Emit a persisted-documents.json (hash → document) to load into the service. On by default. */
  persistedDocuments?: boolean;
}

/**
 * One `generates` entry using the client preset with this service's scalar mappings. Documents
 * are emitted as strings (no GraphQL AST to ship, nothing to print at run time) and carry their
 * sha256 hash for persisted operations.
 */
export function clientPresetTarget(options: ClientPresetOptions) {
  return {
    ...(options.schema ? { schema: options.schema } : {}),
    documents: options.documents,
    preset: "client" as const,
    presetConfig: {
      fragmentMasking: options.fragmentMasking ?? false,
      ...(options.persistedDocuments === false ? {} : { persistedDocuments: { hashAlgorithm: "sha256" as const } }),
    },
    config: {
      scalars,
      strictScalars: true,
      useTypeImports: true,
      enumsAsTypes: true,
      documentMode: "string" as const,
    },
  };
}
