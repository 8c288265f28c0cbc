import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";
import { print, type DocumentNode } from "graphql";
import kitManifest from "./generated/persisted-documents.json" with { type: "json" };

/** Anything typed with its result and variables: the client preset's strings or ASTs. */
export type TypedDocument<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDocument = TypedDocument<any, any>;

/** A document as it goes on the wire: its text and the sha256 (hex) of that exact text. */
export interface WireDocument {
  text: string;
  sha256: string;
}

type Manifest = Record<string, string>;

/**
 * Resolves documents to the text that is sent. A document whose hash is in a manifest (the kit's
 * own, or one passed by the app) is sent as the manifest's text: that text is what the hash was
 * taken of, so the service can match it against the manifest it loaded.
 */
export function createDocumentResolver(extra: Manifest = {}) {
  const manifest: Manifest = { ...(kitManifest as Manifest), ...extra };
  const cache = new Map<unknown, Promise<WireDocument>>();
  return (document: AnyDocument): Promise<WireDocument> => {
    const key = typeof document === "object" && !(document instanceof String) ? document : String(document);
    let wire = cache.get(key);
    if (!wire) {
      wire = resolve(document, manifest);
      cache.set(key, wire);
    }
    return wire;
  };
}

async function resolve(document: AnyDocument, manifest: Manifest): Promise<WireDocument> {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  const known = typeof hash === "string" ? manifest[hash] : undefined;
  const text = known ?? documentText(document);
  return { text, sha256: await sha256Hex(text) };
}

function documentText(document: AnyDocument): string {
  if (typeof document === "object" && document !== null && (document as DocumentNode).kind === "Document") {
    return print(document as DocumentNode);
  }
  return String(document);
}

/** sha256 as lower-case hex, with Web Crypto (browsers in secure contexts, Node 20). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
