import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import type { ApolloServerPlugin } from "@apollo/server";
import { GraphQLError } from "graphql";

/**
 * Persisted operations from a manifest: the client kit's persisted-documents.json (hash → text,
 * hashes as "sha256:<hex>") or Apollo's persisted query manifest ({ operations: [{ id, body }] }).
 * Every operation is keyed by the sha256 of its text, the hash automatic persisted queries send.
 */
export interface PersistedOperations {
  /** sha256 (hex) of the text → the text. */
  byHash: Map<string, string>;
  /** Refuse every operation that is not in the manifest. */
  only: boolean;
}

export class PersistedOperationsError extends Error {}

export async function loadPersistedOperations(settings: { manifest?: string; only: boolean }): Promise<PersistedOperations | undefined> {
  if (!settings.manifest) {
    if (settings.only) throw new PersistedOperationsError("PERSISTED_OPERATIONS_ONLY=true needs a manifest in PERSISTED_OPERATIONS");
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(settings.manifest, "utf8"));
  } catch (err) {
    throw new PersistedOperationsError(`PERSISTED_OPERATIONS: ${settings.manifest} is not a readable JSON manifest (${(err as Error).message})`);
  }
  const byHash = new Map<string, string>();
  for (const text of manifestTexts(parsed)) byHash.set(sha256(text), text);
  if (byHash.size === 0) throw new PersistedOperationsError(`PERSISTED_OPERATIONS: ${settings.manifest} holds no operations`);
  return { byHash, only: settings.only };
}

function manifestTexts(manifest: unknown): string[] {
  const operations = (manifest as { operations?: unknown } | null)?.operations;
  const values = Array.isArray(operations) ? operations.map((o) => (o as { body?: unknown })?.body) : Object.values(manifest ?? {});
  if (!values.every((v): v is string => typeof v === "string" && v.length > 0)) {
    throw new PersistedOperationsError("PERSISTED_OPERATIONS: every entry must be an operation's text (hash → text, or Apollo's { operations: [{ id, body }] })");
  }
  return values;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Fills in the text of a known hash before the server looks it up (so a manifest operation never
 * answers PERSISTED_QUERY_NOT_FOUND, even after a restart) and, in only-mode, refuses any other
 * text, before it is parsed, registered or run. A `documentId` ("sha256:<hex>" or hex, as
 * GraphQL-over-HTTP persisted documents name them) is accepted as well as the APQ extension.
 */
export function persistedOperationsPlugin(operations: PersistedOperations): ApolloServerPlugin {
  return {
    async requestDidStart({ request }) {
      const body = request.http?.body as { documentId?: unknown } | undefined;
      const documentId = typeof body?.documentId === "string" ? body.documentId.replace(/^sha256:/, "") : undefined;
      const sentHash = request.extensions?.persistedQuery?.sha256Hash ?? documentId;
      if (request.query === undefined && typeof sentHash === "string") {
        const text = operations.byHash.get(sentHash);
        if (text !== undefined) {
          request.query = text;
          if (request.extensions?.persistedQuery) request.extensions = { ...request.extensions, persistedQuery: { version: 1, sha256Hash: sentHash } };
          return;
        }
        if (documentId !== undefined && !request.extensions?.persistedQuery) throw notAllowed("Unknown documentId", "PERSISTED_QUERY_NOT_FOUND");
      }
      if (!operations.only) return;
      const known = request.query !== undefined && operations.byHash.has(sha256(request.query));
      if (!known) throw notAllowed("Only persisted operations are accepted here, and this one is not among them", "PERSISTED_QUERY_NOT_ALLOWED");
    },
  };
}

function notAllowed(message: string, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status: 400 } } });
}
