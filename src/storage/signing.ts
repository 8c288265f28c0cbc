import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Signed, expiring links for files the service serves itself: an HMAC over the storage alias,
 * the name, the expiry and the download flag, so none of them can be changed without the key.
 */
export class UrlSigner {
  /** Imported once: signing runs for every file URL a response carries. */
  private readonly key: KeyObject;

  constructor(key: string | Buffer) {
    const bytes = Buffer.isBuffer(key) ? key : Buffer.from(key, "utf8");
    if (bytes.length < 16) throw new Error("The URL signing key must be at least 16 bytes");
    this.key = createSecretKey(bytes);
  }

  sign(scope: string, name: string, expires: number, download: boolean): string {
    return createHmac("sha256", this.key).update(`${scope}\n${name}\n${expires}\n${download ? 1 : 0}`).digest("base64url");
  }

  /** The query string that makes a link to `name` valid until `expiresIn` seconds from now. */
  query(scope: string, name: string, expiresIn: number, download: boolean, now = Date.now()): string {
    const expires = Math.floor(now / 1000) + Math.max(1, Math.floor(expiresIn));
    const params = new URLSearchParams({ expires: String(expires) });
    if (download) params.set("download", "1");
    params.set("signature", this.sign(scope, name, expires, download));
    return params.toString();
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
