import { randomUUID } from "node:crypto";
import { StorageError } from "./contract.js";
import { getValidName } from "./naming.js";

/** What an upload route template can use (Django's upload_to, medialibrary's setup_upload_route). */
export interface RouteTokens {
  kind: string;
  owner: string;
  shelf: string;
  /** The file's base name without extension, as the client named it (made valid here). */
  name: string;
  /** The extension of the detected format, without the dot. */
  ext: string;
  now?: Date;
}

const TOKENS = new Set(["kind", "owner", "shelf", "yyyy", "mm", "dd", "uuid", "name", "ext"]);

/** Checks a template once, at configuration time, so a typo fails at start and not at upload. */
export function validateUploadRoute(template: string): void {
  for (const [, token] of template.matchAll(/\{([^}]*)\}/g)) {
    if (!TOKENS.has(token!)) throw new StorageError("SUSPICIOUS_NAME", `Unknown token {${token}} in upload route ${JSON.stringify(template)}`);
  }
}

/**
 * Fills a template such as "{kind}/{yyyy}/{mm}/{shelf}/{name}.{ext}". Every token's value is made
 * a single valid name segment first, so no value can add directories or climb out of the root.
 */
export function renderUploadRoute(template: string, tokens: RouteTokens): string {
  validateUploadRoute(template);
  const now = tokens.now ?? new Date();
  const values: Record<string, string> = {
    kind: tokens.kind.toLowerCase(),
    owner: segment(tokens.owner, "owner"),
    shelf: segment(tokens.shelf, "shelf"),
    yyyy: String(now.getUTCFullYear()),
    mm: String(now.getUTCMonth() + 1).padStart(2, "0"),
    dd: String(now.getUTCDate()).padStart(2, "0"),
    uuid: randomUUID(),
    name: segment(tokens.name, "file").slice(0, 80),
    ext: segment(tokens.ext, "bin").toLowerCase(),
  };
  return template.replace(/\{([^}]*)\}/g, (_, token: string) => values[token]!);
}

function segment(value: string, fallback: string): string {
  try {
    return getValidName(value);
  } catch {
    return fallback;
  }
}
