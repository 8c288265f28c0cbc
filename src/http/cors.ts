import cors from "cors";
import type { NextFunction, Request, RequestHandler, Response } from "express";

/** Which browser origins may call the service (CORS_ORIGINS, CORS_CREDENTIALS). */
export interface CorsSettings {
  /** Exact origins (https://app.example.com), subdomain patterns (https://*.example.com), or `*`. */
  origins: string[];
  /** Whether credentialed requests (cookies, HTTP auth) may be read; never with `*`. */
  credentials: boolean;
}

/** What browser clients send: GraphQL (JSON, multipart, Apollo's CSRF headers) and media reads. */
const ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "Apollo-Require-Preflight",
  "X-Apollo-Operation-Name",
  "Apollo-GraphQL-Client-Name",
  "Apollo-GraphQL-Client-Version",
  "Range",
  "If-Range",
  "If-None-Match",
  "If-Modified-Since",
];

/** What players, canvases and download code read from media answers (the rest is safelisted). */
const EXPOSED_HEADERS = ["Content-Range", "Accept-Ranges", "ETag", "Content-Length", "Content-Disposition", "Retry-After"];

/** Browsers keep a preflight's answer this long, so a changed CORS_ORIGINS shows within minutes. */
const PREFLIGHT_MAX_AGE_S = 600;

type OriginRule = { kind: "any" } | { kind: "exact"; origin: string } | { kind: "subdomains"; protocol: string; suffix: string; port: string };

const PATTERN = /^(https?):\/\/\*\.([a-z0-9.-]+?)(?::(\d+))?$/i;
const DEFAULT_PORTS: Record<string, string> = { "http:": "80", "https:": "443" };

/** The rules of a list, parsed once per list (the list is the configuration's, so there are few). */
const parsedLists = new WeakMap<string[], OriginRule[]>();

function rulesOf(origins: string[]): OriginRule[] {
  let rules = parsedLists.get(origins);
  if (!rules) {
    rules = origins.flatMap((entry): OriginRule[] => {
      if (entry === "*") return [{ kind: "any" }];
      const pattern = PATTERN.exec(entry);
      if (pattern) {
        const protocol = `${pattern[1]!.toLowerCase()}:`;
        const port = pattern[3] && pattern[3] !== DEFAULT_PORTS[protocol] ? pattern[3] : "";
        return [{ kind: "subdomains", protocol, suffix: `.${pattern[2]!.toLowerCase()}`, port }];
      }
      // Written by hand, so normalised as browsers send it (lower case, no default port).
      const url = parseUrl(entry);
      // The configuration refuses malformed entries; one that slips through allows nothing.
      return url ? [{ kind: "exact", origin: url.origin }] : [];
    });
    parsedLists.set(origins, rules);
  }
  return rules;
}

/** A request's origin as a URL, or undefined for anything a browser would not send ("null", paths, upper case). */
function parseOrigin(origin: string): URL | undefined {
  const url = parseUrl(origin);
  return url && (url.protocol === "http:" || url.protocol === "https:") && url.origin === origin ? url : undefined;
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** The Host header names the origin's host and port (a default port written or not). */
function sameHost(url: URL, requestHost: string): boolean {
  return parseUrl(`${url.protocol}//${requestHost}`)?.host === url.host;
}

/**
 * Whether a request carrying `origin` may be answered for a browser: requests without an Origin
 * (servers, curl) and from the service's own origin always; others when listed. A pattern
 * `https://*.example.com` matches subdomains at any depth (a.example.com, a.b.example.com), not
 * example.com itself, and only with the pattern's scheme and port.
 */
export function isOriginAllowed(origin: string | undefined, options: CorsSettings, requestHost?: string): boolean {
  if (origin === undefined) return true;
  const rules = rulesOf(options.origins);
  if (rules.some((rule) => rule.kind === "any")) return true;
  const url = parseOrigin(origin);
  if (!url) return false;
  if (requestHost && sameHost(url, requestHost)) return true;
  return rules.some((rule) => {
    if (rule.kind === "exact") return rule.origin === url.origin;
    if (rule.kind !== "subdomains") return false;
    return url.protocol === rule.protocol && url.port === rule.port && url.hostname.endsWith(rule.suffix) && url.hostname.length > rule.suffix.length;
  });
}

function isPreflight(req: Request): boolean {
  return req.method === "OPTIONS" && req.headers.origin !== undefined && req.headers["access-control-request-method"] !== undefined;
}

/**
 * CORS for every route, mounted before anything else so a preflight is answered before CSRF
 * prevention and the multipart guard run (they stay on for the request that follows). An
 * allowed origin is reflected (with credentials if configured) or, under `*`, answered `*`.
 * A disallowed origin's requests run as before but get no Access-Control-* headers, so the
 * browser withholds the answer; its preflight gets 403.
 */
export function corsMiddleware(options: CorsSettings): RequestHandler {
  const refuse = (res: Response) =>
    res.status(403).json({ errors: [{ message: "This origin is not allowed to call the service", extensions: { code: "FORBIDDEN" } }] });
  if (options.origins.length === 0) {
    // No origin listed (the default): answers never vary by origin, so the media route and
    // GraphQL pay nothing for CORS; only another origin's preflight is answered, with a refusal.
    return (req, res, next) => {
      if (isPreflight(req) && !isOriginAllowed(req.headers.origin, options, req.headers.host)) return void refuse(res);
      next();
    };
  }
  const anyOrigin = rulesOf(options.origins).some((rule) => rule.kind === "any");
  const handle = cors((req, callback) => {
    const origin = req.headers.origin;
    // Under `*` every answer says so, with or without an Origin: one answer fits all, cached or not.
    const allowed = anyOrigin || (origin !== undefined && isOriginAllowed(origin, options, req.headers.host));
    callback(null, {
      origin: allowed ? (anyOrigin ? "*" : origin) : false,
      credentials: options.credentials && !anyOrigin,
      methods: ["GET", "HEAD", "POST"],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: PREFLIGHT_MAX_AGE_S,
    });
  });
  return (req: Request, res: Response, next: NextFunction) => {
    // The answer differs by origin (its ACAO header, or none): caches must keep them apart.
    if (!anyOrigin) res.vary("Origin");
    if (isPreflight(req) && !isOriginAllowed(req.headers.origin, options, req.headers.host)) return void refuse(res);
    handle(req, res, next);
  };
}
