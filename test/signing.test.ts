import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { InMemoryStorage } from "../src/storage/memory.js";
import { loadOrCreateSigningKey, UrlSigner } from "../src/storage/signing.js";

const KEY = "0123456789abcdef-test-signing-key";
/** A fixed clock, in milliseconds, half-way through a second. */
const NOW = Date.UTC(2024, 4, 17, 12, 0, 0) + 500;

/** A query string as the media route sees it: every parameter a string. */
function parse(query: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(query));
}

/** A signed link's parameters, made at `now` for `expiresIn` seconds. */
function link(signer: UrlSigner, expiresIn = 3600, download = false, now = NOW, scope = "default", name = "image/2024/05/a.jpg") {
  return parse(signer.query(scope, name, expiresIn, download, now));
}

describe("UrlSigner keys", () => {
  it("refuse a key shorter than 16 bytes, counted in bytes and not characters", () => {
    assert.throws(() => new UrlSigner("short"), /at least 16 bytes/);
    assert.throws(() => new UrlSigner(Buffer.alloc(15)), /at least 16 bytes/);
    assert.doesNotThrow(() => new UrlSigner(Buffer.alloc(16)));
    // Eight two-byte characters are 16 bytes.
    assert.doesNotThrow(() => new UrlSigner("éééééééé"));
  });

  it("sign the same with a string and a Buffer of the same bytes", () => {
    const a = new UrlSigner(KEY);
    const b = new UrlSigner(Buffer.from(KEY, "utf8"));
    assert.equal(a.sign("default", "a.jpg", 100, false), b.sign("default", "a.jpg", 100, false));
  });
});

describe("signed links", () => {
  const signer = new UrlSigner(KEY);
  const name = "image/2024/05/a.jpg";

  it("carry an expiry and a base64url signature, and verify", () => {
    const query = signer.query("default", name, 3600, false, NOW);
    assert.match(query, /^expires=\d+&signature=[A-Za-z0-9_-]{43}$/);
    assert.equal(signer.check("default", name, parse(query), NOW), "valid");
  });

  it("with the download flag carry download=1 and verify", () => {
    const query = signer.query("default", name, 3600, true, NOW);
    assert.match(query, /^expires=\d+&download=1&signature=[A-Za-z0-9_-]{43}$/);
    assert.equal(signer.check("default", name, parse(query), NOW), "valid");
  });

  it("verify with another signer holding the same key (after a restart)", () => {
    assert.equal(new UrlSigner(KEY).check("default", name, link(signer), NOW), "valid");
  });

  it("are refused for another name, however close", () => {
    const query = link(signer);
    for (const other of ["image/2024/05/b.jpg", "image/2024/05/a.jpg/", "image/2024/05/a.jpeg", "Image/2024/05/a.jpg", "image/2024/05/a.jp", ""]) {
      assert.equal(signer.check("default", other, query, NOW), "invalid", other);
    }
  });

  it("are refused for another storage alias", () => {
    assert.equal(signer.check("private", name, link(signer), NOW), "invalid");
  });

  it("are refused when the expiry is changed", () => {
    const query = link(signer);
    const expires = Number(query.expires);
    for (const changed of [expires + 1, expires - 1, expires * 10, 0]) {
      assert.equal(signer.check("default", name, { ...query, expires: String(changed) }, NOW), "invalid", String(changed));
    }
  });

  it("are refused when the expiry is not plain digits", () => {
    const query = link(signer);
    for (const expires of [`${query.expires}.0`, `+${query.expires}`, `-${query.expires}`, ` ${query.expires}`, `${query.expires}e0`, "", "NaN", "Infinity"]) {
      assert.equal(signer.check("default", name, { ...query, expires }, NOW), "invalid", expires);
    }
  });

  it("are refused when the signature is changed, cut, lengthened or in another case", () => {
    const query = link(signer);
    const signature = query.signature!;
    const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
    const variants = [flipped, signature.slice(0, -1), `${signature}A`, signature.toUpperCase() === signature ? signature.toLowerCase() : signature.toUpperCase(), "", `${signature}=`];
    for (const changed of variants) {
      assert.notEqual(changed, signature);
      assert.equal(signer.check("default", name, { ...query, signature: changed }, NOW), "invalid", changed);
    }
  });

  it("are refused when the download flag is added, removed or given another value", () => {
    const inline = link(signer, 3600, false);
    const download = link(signer, 3600, true);
    assert.equal(signer.check("default", name, { ...inline, download: "1" }, NOW), "invalid");
    const { download: _, ...withoutFlag } = download;
    assert.equal(signer.check("default", name, withoutFlag, NOW), "invalid");
    for (const value of ["0", "true", "", "01"]) {
      assert.equal(signer.check("default", name, { ...download, download: value }, NOW), "invalid", value);
      assert.equal(signer.check("default", name, { ...inline, download: value }, NOW), "invalid", value);
    }
  });

  it("are refused when a parameter is repeated (Express then gives an array)", () => {
    const query = link(signer);
    assert.equal(signer.check("default", name, { ...query, expires: [query.expires, query.expires] }, NOW), "invalid");
    assert.equal(signer.check("default", name, { ...query, signature: [query.signature, query.signature] }, NOW), "invalid");
    assert.equal(signer.check("default", name, { ...link(signer, 3600, true), download: ["1", "1"] }, NOW), "invalid");
  });

  it("made with another key are refused, though well formed", () => {
    const other = new UrlSigner("another-key-of-at-least-16-bytes");
    const query = link(other);
    assert.equal(other.check("default", name, query, NOW), "valid");
    assert.equal(signer.check("default", name, query, NOW), "invalid");
    assert.equal(signer.check("default", name, link(other, 3600, true), NOW), "invalid");
    // A key that is a prefix of the other is another key.
    assert.equal(new UrlSigner(`${KEY}x`).check("default", name, link(signer), NOW), "invalid");
  });

  it("say missing only when neither expiry nor signature is given", () => {
    assert.equal(signer.check("default", name, {}, NOW), "missing");
    // A plain download link of a public file carries only the flag.
    assert.equal(signer.check("default", name, { download: "1" }, NOW), "missing");
    assert.equal(signer.check("default", name, { other: "x" }, NOW), "missing");
    const query = link(signer);
    assert.equal(signer.check("default", name, { expires: query.expires }, NOW), "invalid");
    assert.equal(signer.check("default", name, { signature: query.signature }, NOW), "invalid");
  });
});

describe("link expiry", () => {
  const signer = new UrlSigner(KEY);
  const name = "a.jpg";

  it("lasts at least the lifetime asked for, and is refused once past", () => {
    const query = link(signer, 60, false, NOW, "default", name);
    const expiresMs = Number(query.expires) * 1000;
    assert.ok(expiresMs >= NOW + 60_000 - 1000, "at least the lifetime, from the start of the current second");
    assert.equal(signer.check("default", name, query, NOW + 59_000), "valid");
    assert.equal(signer.check("default", name, query, expiresMs), "valid", "valid up to its last millisecond");
    assert.equal(signer.check("default", name, query, expiresMs + 1), "expired");
    assert.equal(signer.check("default", name, query, expiresMs + 86_400_000), "expired");
  });

  it("is checked against the real clock when none is given", () => {
    const query = parse(signer.query("default", name, 3600, false));
    assert.equal(signer.check("default", name, query), "valid");
    const past = Math.floor(Date.now() / 1000) - 10;
    const old = { expires: String(past), signature: signer.sign("default", name, past, false) };
    assert.equal(signer.check("default", name, old), "expired");
  });

  it("of a link signed for the past is expired, not invalid, when the signature is right", () => {
    const past = Math.floor(NOW / 1000) - 1;
    const query = { expires: String(past), download: "1", signature: signer.sign("default", name, past, true) };
    assert.equal(signer.check("default", name, query, NOW), "expired");
  });

  it("of a tampered link is reported as invalid, not expired, even when it is past", () => {
    const query = link(signer, 60, false, NOW, "default", name);
    const later = NOW + 3_600_000;
    assert.equal(signer.check("default", name, query, later), "expired");
    assert.equal(signer.check("default", name, { ...query, expires: String(Number(query.expires) + 7200) }, later), "invalid");
  });

  it("is rounded up to a tenth of the lifetime, at most a minute, at least a second", () => {
    const nowSeconds = Math.floor(NOW / 1000);
    const cases: Array<[expiresIn: number, step: number]> = [
      [1, 1],
      [5, 1],
      [19, 1],
      [20, 2],
      [100, 10],
      [599, 59],
      [600, 60],
      [3600, 60],
      [86_400, 60],
    ];
    for (const [expiresIn, step] of cases) {
      // At every offset in a span of steps, the expiry is the first multiple of the step at or after now + lifetime.
      for (let offset = 0; offset < 2 * step + 3; offset++) {
        const now = NOW + offset * 1000;
        const expires = Number(link(signer, expiresIn, false, now, "default", name).expires);
        const earliest = nowSeconds + offset + expiresIn;
        assert.equal(expires % step, 0, `expiresIn ${expiresIn}: ${expires} is not a multiple of ${step}`);
        assert.ok(expires >= earliest && expires < earliest + step, `expiresIn ${expiresIn} at +${offset}s: ${expires} not in [${earliest}, ${earliest + step})`);
      }
    }
  });

  it("treats a lifetime under a second, zero or negative as one second, and drops fractions", () => {
    const nowSeconds = Math.floor(NOW / 1000);
    for (const expiresIn of [0, 0.5, -10]) {
      assert.equal(Number(link(signer, expiresIn, false, NOW, "default", name).expires), nowSeconds + 1, String(expiresIn));
    }
    assert.equal(link(signer, 5.9, false, NOW, "default", name).expires, link(signer, 5, false, NOW, "default", name).expires);
  });

  it("makes links within one step identical, and the next step's link different", () => {
    // With an hour's lifetime the step is a minute: start just after a boundary so a whole step follows.
    const stepMs = 60_000;
    const boundary = Math.ceil((NOW + 3_600_000) / stepMs) * stepMs - 3_600_000;
    const start = boundary + 1000;
    const first = signer.query("default", name, 3600, false, start);
    for (let ms = start; ms < start + stepMs; ms += 997) {
      assert.equal(signer.query("default", name, 3600, false, ms), first, `at +${ms - start}ms`);
    }
    assert.equal(signer.query("default", name, 3600, false, start + stepMs - 1), first);
    const next = signer.query("default", name, 3600, false, start + stepMs);
    assert.notEqual(next, first);
    assert.equal(Number(parse(next).expires) - Number(parse(first).expires), 60);
    // Both stay valid until their own expiry.
    assert.equal(signer.check("default", name, parse(first), start + stepMs), "valid");
    assert.equal(signer.check("default", name, parse(next), start + stepMs), "valid");
  });

  it("gives identical links to repeated calls only for the same name, alias and flag", () => {
    const base = signer.query("default", name, 3600, false, NOW);
    assert.equal(signer.query("default", name, 3600, false, NOW), base);
    assert.notEqual(signer.query("default", "b.jpg", 3600, false, NOW), base);
    assert.notEqual(signer.query("private", name, 3600, false, NOW), base);
    assert.notEqual(signer.query("default", name, 3600, true, NOW), base);
    // Another signer with another key does not share links.
    assert.notEqual(new UrlSigner("another-key-of-at-least-16-bytes").query("default", name, 3600, false, NOW), base);
  });

  it("still signs correctly once many links have been made (the reuse cache starts over)", () => {
    const many = new UrlSigner(KEY);
    for (let i = 0; i < 10_050; i++) many.query("default", `f${i}.jpg`, 3600, false, NOW);
    for (const i of [0, 9_999, 10_000, 10_049]) {
      const query = parse(many.query("default", `f${i}.jpg`, 3600, false, NOW));
      assert.equal(signer.check("default", `f${i}.jpg`, query, NOW), "valid", String(i));
      assert.equal(signer.check("default", `f${i + 1}.jpg`, query, NOW), "invalid", String(i));
    }
  });
});

describe("signed links from a storage's url()", () => {
  const signer = new UrlSigner(KEY);

  it("carry a query that the same signer accepts for that alias and name only", async () => {
    const storage = new InMemoryStorage({ baseUrl: "/media/", querystringAuth: true, querystringExpire: 300, signer, scope: "private" });
    const url = new URL(await storage.url("image/2024/05/a b.jpg"), "http://localhost");
    assert.equal(url.pathname, "/media/image/2024/05/a%20b.jpg");
    const query = Object.fromEntries(url.searchParams);
    assert.equal(signer.check("private", "image/2024/05/a b.jpg", query), "valid");
    assert.equal(signer.check("default", "image/2024/05/a b.jpg", query), "invalid");
    assert.equal(signer.check("private", "image/2024/05/a%20b.jpg", query), "invalid");
    const download = Object.fromEntries(new URL(await storage.url("a.jpg", { download: true }), "http://localhost").searchParams);
    assert.equal(download.download, "1");
    assert.equal(signer.check("private", "a.jpg", download), "valid");
  });
});

describe("loadOrCreateSigningKey", () => {
  const root = mkdtempSync(path.join(tmpdir(), "signing-key-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("returns the configured key as it is, writing nothing", () => {
    const dir = path.join(root, "configured");
    assert.equal(loadOrCreateSigningKey(dir, "configured-key-value"), "configured-key-value");
    assert.throws(() => statSync(dir), { code: "ENOENT" });
  });

  it("creates a key on first start, readable by its owner only, and returns the same one after", () => {
    const dir = path.join(root, "nested", "data");
    const key = loadOrCreateSigningKey(dir);
    assert.match(key, /^[A-Za-z0-9_-]{43}$/);
    assert.doesNotThrow(() => new UrlSigner(key));
    const file = path.join(dir, "signing.key");
    assert.equal(readFileSync(file, "utf8"), `${key}\n`);
    if (process.platform !== "win32") assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(loadOrCreateSigningKey(dir), key);
    assert.equal(loadOrCreateSigningKey(dir, ""), key, "an empty configured key counts as none");
    assert.notEqual(loadOrCreateSigningKey(path.join(root, "other")), key);
  });

  it("reads a key kept in the directory, without its surrounding whitespace", () => {
    const dir = mkdtempSync(path.join(root, "kept-"));
    writeFileSync(path.join(dir, "signing.key"), "  kept-key-from-before-restart \n\n");
    assert.equal(loadOrCreateSigningKey(dir), "kept-key-from-before-restart");
  });

  it("prefers a configured key to a kept one", () => {
    const dir = mkdtempSync(path.join(root, "both-"));
    writeFileSync(path.join(dir, "signing.key"), "kept-key-from-before-restart\n");
    assert.equal(loadOrCreateSigningKey(dir, "configured-key-value"), "configured-key-value");
  });
});
