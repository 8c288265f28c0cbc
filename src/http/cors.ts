/** Which browser origins may call the service (CORS_ORIGINS, CORS_CREDENTIALS). */
export interface CorsSettings {
  origins: string[];
  credentials: boolean;
}

/**
 * Whether a request from `origin` may be served: always without an Origin header (clients that
 * are not browsers), from the service's own origin (`requestHost`, the Host header), and from
 * an origin CORS_ORIGINS allows: exact, `*`, or `https://*.example.com` (subdomains only).
 */
export function isOriginAllowed(origin: string | undefined, options: CorsSettings, requestHost?: string): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false;
  if (requestHost && url.host === requestHost.toLowerCase()) return true;
  return options.origins.some((entry) => {
    if (entry === "*") return true;
    const pattern = /^(https?:)\/\/\*\.(.+)$/i.exec(entry);
    if (pattern) return url.protocol === pattern[1]!.toLowerCase() && url.host.endsWith(`.${pattern[2]!.toLowerCase()}`);
    try {
      return new URL(entry).origin === origin;
    } catch {
      return false;
    }
  });
}
