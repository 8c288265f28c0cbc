import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Longest rounding of a link's expiry, in seconds. */
const MAX_EXPIRY_STEP = 60;
/** Most query strings kept for reuse. */
const MAX_RECENT = 10_000;

/**
 * Signed, expiring links for files the service serves itself: an HMAC over the storage alias,
 * the name, the expiry and the download flag, so none of them can be changed without the key.
 */
export class UrlSigner {
  /** Imported once: signing runs for every file URL a response carries. */
  private readonly key: KeyObject;
  /** Query strings made in the current steps, by expiry, scope, name and download flag. */
  private readonly recent = new Map<string, string>();

  constructor(key: string | Buffer) {
    const bytes = Buffer.isBuffer(key) ? key : Buffer.from(key, "utf8");
    if (bytes.length < 16) throw new Error("The URL signing key must be at least 16 bytes");
    this.key = createSecretKey(bytes);
  }

  sign(scope: string, name: string, expires: number, download: boolean): string {
    return createHmac("sha256", this.key).update(`${scope}\n${name}\n${expires}\n${download ? 1 : 0}`).digest("base64url");
  }

  /**
   * The query string that makes a link to `name` valid for `expiresIn` seconds from now. The
   * expiry is rounded up to a step of a tenth of the lifetime (at most a minute), so every link
   * to a file made within one step is the same link: signed once, and cacheable downstream.
   */
  query(scope: string, name: string, expiresIn: number, download: boolean, now = Date.now()): string {
    const lifetime = Math.max(1, Math.floor(expiresIn));
    const step = Math.max(1, Math.min(MAX_EXPIRY_STEP, Math.floor(lifetime / 10)));
    const expires = Math.ceil((Math.floor(now / 1000) + lifetime) / step) * step;
    const key = `${expires}\n${scope}\n${name}\n${download ? 1 : 0}`;
    let query = this.recent.get(key);
    if (query === undefined) {
      // expires is digits and the signature base64url: neither needs escaping.
      query = `expires=${expires}${download ? "&download=1" : ""}&signature=${this.sign(scope, name, expires, download)}`;
      // Bounded: entries of past steps are never asked for again, so starting over loses little.
      if (this.recent.size >= MAX_RECENT) this.recent.clear();
      this.recent.set(key, query);
    }
    return query;
  }

  /** "valid", or why not: a link that was changed or has expired gets the same 403. */
  check(scope: string, name: string, query: Record<string, unknown>, now = Date.now()): "valid" | "missing" | "invalid" | "expired" {
    const { expires, signature, download } = query;
    if (expires === undefined && signature === undefined) return "missing";
    if (typeof expires !== "string" || typeof signature !== "string" || !/^\d+$/.test(expires)) return "invalid";
    if (download !== undefined && download !== "1") return "invalid";
    const expected = Buffer.from(this.sign(scope, name, Number(expires), download === "1"));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "invalid";
    return Number(expires) * 1000 < now ? "expired" : "valid";
  }
}

/**
 * The configured key, or one generated on first start and kept in `dir` (readable by the
 * service's user only), so signed links survive restarts with nothing to configure.
 */
export function loadOrCreateSigningKey(dir: string, configured?: string): string {
  if (configured) return configured;
  const file = path.join(dir, "signing.key");
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dir, { recursive: true });
  const key = randomBytes(32).toString("base64url");
  try {
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
    return key;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8").trim();
    throw err;
  }
}
