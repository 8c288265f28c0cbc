import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError } from "../src/storage/contract.js";
import { InMemoryStorage } from "../src/storage/memory.js";
import { assertSafeName } from "../src/storage/naming.js";
import { renderUploadRoute, validateUploadRoute, type RouteTokens } from "../src/storage/routes.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Late on New Year's Eve in UTC: already the next day, month and year east of Greenwich. */
const NOW = new Date(Date.UTC(2024, 11, 31, 23, 30, 0));

function tokens(overrides: Partial<RouteTokens> = {}): RouteTokens {
  return { kind: "image", owner: "alice", shelf: "holidays", name: "beach", ext: "jpg", now: NOW, ...overrides };
}

/** The one segment a token renders to, on its own. */
function render(token: string, overrides: Partial<RouteTokens> = {}): string {
  return renderUploadRoute(`{${token}}`, tokens(overrides));
}

/** What a value made into a segment must be: one non-empty, non-hidden name of letters, digits, "-", "_" and ".". */
function assertSegment(value: string): void {
  assert.notEqual(value, "");
  assert.ok(!value.includes("/") && !value.includes("\\"), `${JSON.stringify(value)} has a separator`);
  assert.ok(!/[\u0000-\u001f\u007f]/.test(value), `${JSON.stringify(value)} has a control character`);
  assert.ok(!value.startsWith("."), `${JSON.stringify(value)} is hidden or climbs`);
  assert.match(value, /^[\p{L}\p{N}_.-]+$/u);
}

function refusesToken(template: string, token: string) {
  return (err: unknown) => {
    assert.ok(err instanceof StorageError);
    assert.equal(err.code, "SUSPICIOUS_NAME");
    assert.ok(err.message.includes(`{${token}}`), err.message);
    assert.ok(err.message.includes(JSON.stringify(template)), err.message);
    return true;
  };
}

describe("upload route tokens", () => {
  it("fill the default route", () => {
    assert.equal(renderUploadRoute("{kind}/{yyyy}/{mm}/{shelf}/{name}.{ext}", tokens()), "image/2024/12/holidays/beach.jpg");
  });

  it("fill every token, dates in UTC and zero-padded", () => {
    const route = renderUploadRoute("{kind}/{owner}/{shelf}/{yyyy}-{mm}-{dd}/{uuid}/{name}.{ext}", tokens());
    const [kind, owner, shelf, date, uuid, file, ...rest] = route.split("/");
    assert.deepEqual([kind, owner, shelf, date, file, rest], ["image", "alice", "holidays", "2024-12-31", "beach.jpg", []]);
    assert.match(uuid!, UUID);
    assert.equal(renderUploadRoute("{yyyy}/{mm}/{dd}", tokens({ now: new Date(Date.UTC(2025, 0, 2, 0, 0, 0)) })), "2025/01/02");
    assert.equal(renderUploadRoute("{yyyy}/{mm}/{dd}", tokens({ now: new Date(Date.UTC(987, 8, 9)) })), "987/09/09");
  });

  it("use the current date when none is given", () => {
    const before = new Date();
    const route = renderUploadRoute("{yyyy}/{mm}/{dd}", { kind: "image", owner: "a", shelf: "s", name: "n", ext: "jpg" });
    const after = new Date();
    const expected = (d: Date) => `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, "0")}/${String(d.getUTCDate()).padStart(2, "0")}`;
    assert.ok(route === expected(before) || route === expected(after), route);
  });

  it("give a new uuid for every upload, and the same one for every {uuid} in a route", () => {
    const a = render("uuid");
    const b = render("uuid");
    assert.match(a, UUID);
    assert.notEqual(a, b);
    const [first, second] = renderUploadRoute("{uuid}/{uuid}", tokens()).split("/");
    assert.equal(first, second);
  });

  it("leave text outside tokens as written, and can be used more than once", () => {
    assert.equal(renderUploadRoute("uploads/{kind}-{owner}/{name}_{name}.{ext}.bak", tokens()), "uploads/image-alice/beach_beach.jpg.bak");
    assert.equal(renderUploadRoute("static/file", tokens()), "static/file");
  });

  it("lower-case the kind and the extension, and keep the case of the other values", () => {
    const route = renderUploadRoute("{kind}/{owner}/{shelf}/{name}.{ext}", tokens({ kind: "IMAGE", owner: "Alice", shelf: "Holidays", name: "Beach", ext: "JPG" }));
    assert.equal(route, "image/Alice/Holidays/Beach.jpg");
  });
});

describe("upload route values", () => {
  it("are cut to their last path segment, so none adds a directory or climbs out of the root", () => {
    for (const token of ["owner", "shelf", "name", "ext"] as const) {
      for (const value of ["../../etc/passwd", "/etc/passwd", "a/b", "..\\..\\windows\\system32", "./x/./passwd", "x/../../passwd"]) {
        const rendered = render(token, { [token]: value });
        assertSegment(rendered);
        assert.equal(rendered, value.split(/[\\/]/).pop(), `${token} = ${value}`);
      }
    }
    const route = renderUploadRoute("{kind}/{owner}/{shelf}/{name}.{ext}", tokens({ owner: "../..", shelf: "..", name: "../../../etc/passwd", ext: "../sh" }));
    assert.equal(route, "image/owner/shelf/passwd.sh");
    assert.equal(assertSafeName(route), route);
  });

  it("lose NUL and control characters", () => {
    assert.equal(render("name", { name: "be\0ach" }), "beach");
    assert.equal(render("name", { name: "be\u0001a\u001fc\u007fh\u0085" }), "beach");
    // Line breaks are whitespace: inside a value they become "_", at its ends they go.
    assert.equal(render("owner", { owner: "\nali\nce\r" }), "ali_ce");
    assert.equal(render("ext", { ext: "jp\0g" }), "jpg");
    assert.equal(render("name", { name: "\0\u0001\u001f" }), "file");
  });

  it("replace whitespace, drop other punctuation and never start with a dot", () => {
    assert.equal(render("name", { name: "  my  summer\tphoto " }), "my_summer_photo");
    assert.equal(render("name", { name: "a:b*c?d\"e<f>g|h%i$j" }), "abcdefghij");
    assert.equal(render("name", { name: ".hidden" }), "hidden");
    assert.equal(render("name", { name: "...hidden" }), "hidden");
    assert.equal(render("name", { name: "a..b" }), "a.b");
    assert.equal(render("name", { name: "Ünïcödé_名前-1" }), "Ünïcödé_名前-1");
  });

  it("that give no name fall back to one per token", () => {
    for (const empty of ["", " ", "..", ".", "/", "../", "???", "\0"]) {
      const route = renderUploadRoute("{owner}/{shelf}/{name}.{ext}", tokens({ owner: empty, shelf: empty, name: empty, ext: empty }));
      assert.equal(route, "owner/shelf/file.bin", JSON.stringify(empty));
    }
  });

  it("cannot inject tokens: braces in a value are dropped, not expanded", () => {
    const route = renderUploadRoute("{owner}/{name}.{ext}", tokens({ owner: "{uuid}", name: "{kind}{yyyy}", ext: "{ext}" }));
    assert.equal(route, "uuid/kindyyyy.ext");
  });

  it("cut a very long name to 80 characters and a very long extension to 100", () => {
    const name = render("name", { name: "n".repeat(10_000) });
    assert.equal(name, "n".repeat(80));
    const route = renderUploadRoute("{name}.{ext}", tokens({ name: "x".repeat(500), ext: "e".repeat(500) }));
    assert.equal(route, `${"x".repeat(80)}.${"e".repeat(100)}`);
    assert.equal(render("owner", { owner: "o".repeat(500) }), "o".repeat(100));
    assert.equal(render("shelf", { shelf: "s".repeat(500) }), "s".repeat(100));
  });

  it("keep a name of 80 characters or fewer whole", () => {
    assert.equal(render("name", { name: "n".repeat(80) }), "n".repeat(80));
    assert.equal(render("name", { name: "é".repeat(80) }), "é".repeat(80));
  });
});

describe("validateUploadRoute", () => {
  it("accepts every known token, and routes with none", () => {
    for (const template of [
      "{kind}/{yyyy}/{mm}/{shelf}/{name}.{ext}",
      "{owner}/{dd}/{uuid}",
      "{kind}{owner}{shelf}{yyyy}{mm}{dd}{uuid}{name}{ext}",
      "fixed/place",
      "",
    ]) {
      assert.doesNotThrow(() => validateUploadRoute(template), template);
    }
  });

  it("refuses an unknown token, naming it and the route", () => {
    for (const [template, token] of [
      ["{kind}/{year}/{name}.{ext}", "year"],
      ["{kind}/{Name}.{ext}", "Name"],
      ["{ name }.{ext}", " name "],
      ["{name:80}.{ext}", "name:80"],
      ["{}/{name}.{ext}", ""],
      ["{{name}}.{ext}", "{name"],
      ["{name}.{EXT}", "EXT"],
    ] as const) {
      assert.throws(() => validateUploadRoute(template), refusesToken(template, token), template);
    }
  });

  it("is applied when rendering too", () => {
    const template = "{kind}/{date}/{name}.{ext}";
    assert.throws(() => renderUploadRoute(template, tokens()), refusesToken(template, "date"));
  });

  it("accepts an unclosed brace, which renders as written", () => {
    assert.doesNotThrow(() => validateUploadRoute("{kind}/{name"));
    // A later closing brace makes it one unknown token.
    assert.throws(() => validateUploadRoute("{kind}/{name.{ext}"), refusesToken("{kind}/{name.{ext}", "name.{ext"));
    assert.equal(renderUploadRoute("{kind}/{name", tokens()), "image/{name");
    assert.equal(renderUploadRoute("{kind}/name}.{ext}", tokens()), "image/name}.jpg");
  });
});

describe("upload routes without an extension or that leave the root", () => {
  it("without {ext} give names without an extension: none is added", () => {
    assert.equal(renderUploadRoute("{kind}/{shelf}/{name}", tokens()), "image/holidays/beach");
    assert.match(renderUploadRoute("{kind}/{uuid}", tokens()), /^image\/[0-9a-f-]{36}$/);
  });

  it("keep a client's own extension as part of the name, before the detected one", () => {
    assert.equal(renderUploadRoute("{name}.{ext}", tokens({ name: "beach.png", ext: "jpg" })), "beach.png.jpg");
  });

  it("render a template that climbs or is absolute as written; storage then refuses the name", () => {
    const storage = new InMemoryStorage({ baseUrl: "/media/" });
    for (const [template, rendered] of [
      ["../{name}.{ext}", "../beach.jpg"],
      ["{kind}/../../{name}.{ext}", "image/../../beach.jpg"],
      ["/{name}.{ext}", "/beach.jpg"],
    ] as const) {
      assert.doesNotThrow(() => validateUploadRoute(template), template);
      assert.equal(renderUploadRoute(template, tokens()), rendered);
      assert.throws(() => storage.generateFilename(rendered), (err: unknown) => err instanceof StorageError && err.code === "SUSPICIOUS_NAME", template);
    }
  });

  it("inside the root are accepted by storage unchanged", () => {
    const storage = new InMemoryStorage({ baseUrl: "/media/" });
    const route = renderUploadRoute("{kind}/{yyyy}/{mm}/{shelf}/{name}.{ext}", tokens({ name: "../My Beach!", shelf: "../../x" }));
    assert.equal(route, "image/2024/12/x/My_Beach.jpg");
    assert.equal(storage.generateFilename(route), route);
    // An empty directory in a template is collapsed by storage, not refused.
    assert.equal(renderUploadRoute("{kind}//{name}.{ext}", tokens()), "image//beach.jpg");
    assert.equal(storage.generateFilename("image//beach.jpg"), "image/beach.jpg");
  });
});
