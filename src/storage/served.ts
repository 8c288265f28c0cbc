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

export function servedUrl(options: ServedUrlOptions, name: string, urlOptions: UrlOptions = {}): string {
  const base = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
  const safe = assertSafeName(name);
  const url = base + safe.split("/").map(encodeURIComponent).join("/");
  const expiresIn = urlOptions.expiresIn ?? (options.querystringAuth ? (options.querystringExpire ?? 3600) : undefined);
  if (expiresIn === undefined) return urlOptions.download ? `${url}?download=1` : url;
  if (!options.signer) throw new Error("Signed URLs need a signing key");
  return `${url}?${options.signer.query(options.scope ?? "default", safe, expiresIn, urlOptions.download ?? false)}`;
}
