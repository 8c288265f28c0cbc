import type { UrlOptions } from "./contract.js";
import { assertSafeName } from "./naming.js";
import type { UrlSigner } from "./signing.js";

/** How a backend whose bytes the service's media route serves builds its URLs. */
export interface ServedUrlOptions {
  /** URL prefix of the media route for this backend, e.g. "/media/". */
  baseUrl: string;
  /** Signs every URL (private files), like S3's querystring auth. */
  querystringAuth?: boolean;
  /** Lifetime of signed URLs, in seconds. */
  querystringExpire?: number;
  signer?: UrlSigner;
  /** The alias the links are signed for, so a link for one backend cannot open another. */
  scope?: string;
}

/** Most names whose checked form and URL path are kept. */
const MAX_PATHS = 10_000;
/** A name's checked form and its URL path, by name: a list page links every file it shows. */
const paths = new Map<string, { safe: string; path: string }>();

/** The checked name and its URL path; names that fail the check are not kept, and throw again. */
function pathOf(name: string): { safe: string; path: string } {
  let entry = paths.get(name);
  if (entry === undefined) {
    const safe = assertSafeName(name);
    entry = { safe, path: safe.split("/").map(encodeURIComponent).join("/") };
    // Bounded: starting over only costs the checks again.
    if (paths.size >= MAX_PATHS) paths.clear();
    paths.set(name, entry);
  }
  return entry;
}

export function servedUrl(options: ServedUrlOptions, name: string, urlOptions: UrlOptions = {}): string {
  const base = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
  const { safe, path } = pathOf(name);
  const url = base + path;
  const expiresIn = urlOptions.expiresIn ?? (options.querystringAuth ? (options.querystringExpire ?? 3600) : undefined);
  if (expiresIn === undefined) return urlOptions.download ? `${url}?download=1` : url;
  if (!options.signer) throw new Error("Signed URLs need a signing key");
  return `${url}?${options.signer.query(options.scope ?? "default", safe, expiresIn, urlOptions.download ?? false)}`;
}
