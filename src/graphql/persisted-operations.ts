import { createHash } from "node:crypto";
import fs from "node:fs/promises";

/** The cache interface Apollo keeps automatic persisted queries in. */
export interface QueryCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<boolean | void>;
}

/**
 * Persisted operations from a manifest: the client kit's persisted-documents.json (hash → text,
 * hashes written "sha256:<hex>") or Apollo's persisted query manifest ({ operations: [{ id, body }] }).
 * Every operation is keyed by the sha256 (hex) of its text: the hash automatic persisted queries
 * send, which Apollo checks against the text.
 */
export class PersistedOperations {
  constructor(
    private readonly byHash: ReadonlyMap<string, string>,
    /** Refuse every operation that is not in the manifest. */
    readonly only: boolean,
  ) {}

  get size(): number {
    return this.byHash.size;
  }

  /** The text of a hash ("sha256:<hex>" or hex), if the manifest has it. */
  textFor(hash: string): string | undefined {
    return this.byHash.get(hash.replace(/^sha256:/, ""));
  }

  /** Whether a request may run: its text, or else its hash, must be the manifest's. */
  allows(request: { query?: string; hash?: string }): boolean {
    if (request.query !== undefined) return this.byHash.has(sha256(request.query));
    return request.hash !== undefined && this.textFor(request.hash) !== undefined;
  }

  /**
   * The cache Apollo keeps automatic persisted queries in, answering the manifest's hashes first:
   * they are found from the first request on, after every restart, on every instance. Others
   * (outside only-mode) are kept in a bounded map as Apollo would keep them.
   */
  apqCache(maxEntries = 10_000): QueryCache {
    const registered = new Map<string, string>();
    return {
      get: async (key) => this.textFor(key.replace(/^apq:/, "")) ?? registered.get(key),
      set: async (key, value) => {
        if (registered.size >= maxEntries) registered.delete(registered.keys().next().value!);
        registered.set(key, value);
      },
      delete: async (key) => registered.delete(key),
    };
  }
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
  return new PersistedOperations(byHash, settings.only);
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
