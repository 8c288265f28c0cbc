import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import type { Page } from "playwright-core";
import sharp from "sharp";
import { buildGraphiqlAssets } from "../scripts/graphiql-assets.js";
import { launchGuardedBrowser, type GuardedBrowser } from "./helpers/chromium.js";
import { makeMp4 } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const SECRET = "a-secret-for-the-ide-tests-that-is-long-enough";
const OWNER = "ide-owner";
// A copy of each screenshot for people reviewing a run; the test's own sit in its sandbox.
const SHOTS_COPY_DIR = process.env.TEST_SCREENSHOTS_DIR;

async function tokenFor(sub: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
}

async function graphqlFromNode(url: string, token: string, query: string, variables: object = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: Array<{ message: string }> };
}

describe("GraphiQL in the browser", async () => {
  let server: TestServer;
  let browser: GuardedBrowser;
  let token: string;
  let shotsDir: string;

  before(async () => {
    await buildGraphiqlAssets();
    server = await startTestServer("pglite", { AUTH_JWT_SECRET: SECRET });
    token = await tokenFor(OWNER);
    shotsDir = path.join(server.sandbox, "shots");
    await fs.mkdir(shotsDir, { recursive: true });
    browser = await launchGuardedBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function screenshot(page: Page, name: string): Promise<void> {
    const file = path.join(shotsDir, `graphiql-${name}.png`);
    await page.screenshot({ path: file });
    if (SHOTS_COPY_DIR) await fs.mkdir(SHOTS_COPY_DIR, { recursive: true }).then(() => fs.copyFile(file, path.join(SHOTS_COPY_DIR, `graphiql-${name}.png`))).catch(() => {});
  }

  /** Opens the IDE as a returning user whose headers (the bearer token) are kept by GraphiQL's "persist headers" setting. */
  async function openIde(address = "/graphiql", headers: object = { Authorization: `Bearer ${token}` }): Promise<Page> {
    const page = await browser.newPage();
    await page.addInitScript((saved) => {
      localStorage.clear();
      localStorage.setItem("graphiql:shouldPersistHeaders", "true");
      localStorage.setItem("graphiql:headers", saved);
    }, JSON.stringify(headers));
    await page.goto(`${server.url}${address}`);
    await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
    // The schema has arrived once the docs explorer can be opened without a spinner.
    await page.waitForFunction(() => !document.querySelector(".graphiql-spinner"));
    return page;
  }

  /** Replaces the query and waits until GraphiQL has read it (the tab takes the operation's name). */
  async function setQuery(page: Page, text: string, operationName: string): Promise<void> {
    await page.evaluate((t) => (document.querySelector(".graphiql-query-editor .CodeMirror") as any).CodeMirror.setValue(t), text);
    await page.locator(".graphiql-tab-active", { hasText: new RegExp(`^${operationName}$`) }).waitFor();
  }
  const setVariables = (page: Page, text: string) =>
    page.evaluate((t) => (document.querySelector(".graphiql-editor-tool .graphiql-editor .CodeMirror") as any).CodeMirror.setValue(t), text);
  const response = (page: Page) => page.evaluate(() => (document.querySelector(".graphiql-response .CodeMirror") as any).CodeMirror.getValue() as string);
  /** Clicks run and waits for the result pane to hold JSON that `done` accepts. */
  async function runAndRead(page: Page, done: (result: any) => boolean): Promise<any> {
    // GraphiQL reads the editor's operations a moment after a change; until then the button may
    // still be the menu it is for several operations (the example's two).
    await page.locator(".graphiql-execute-button:not([aria-haspopup])").click();
    return resultWhen(page, done);
  }
  /** Runs the editor's subscription; resolves once the service has acknowledged its socket. */
  async function startSubscription(page: Page): Promise<void> {
    const acknowledged = new Promise<void>((resolve) => {
      page.once("websocket", (socket) =>
        socket.on("framereceived", (frame) => {
          if (String(frame.payload).includes("connection_ack")) resolve();
        }),
      );
    });
    await page.locator(".graphiql-execute-button:not([aria-haspopup])").click();
    await acknowledged;
  }
  async function resultWhen(page: Page, done: (result: any) => boolean, timeoutMs = 20_000, eachRead?: () => Promise<void>): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let text = "";
    while (Date.now() < deadline) {
      text = await response(page);
      try {
        const result = JSON.parse(text);
        if (done(result)) return result;
      } catch {
        // still empty, or a spinner's placeholder
      }
      await eachRead?.();
      await new Promise((r) => setTimeout(r, 100));
    }
    await screenshot(page, "unexpected-result");
    throw new Error(`the result pane did not show the expected result; it shows: ${text}`);
  }

  test("the page is served with a strict policy and loads with every off-machine request blocked", async () => {
    const res = await fetch(`${server.url}/graphiql`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /text\/html/);
    const csp = res.headers.get("content-security-policy")!;
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /default-src 'none'/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)(?![^>]*type="application\/json")[^>]*>/, "no inline script");
    assert.doesNotMatch(html, /https?:\/\//, "nothing from another host");
    const script = /src="(\/graphiql\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${server.url}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get("cache-control")!, /max-age=31536000/);
    assert.match(asset.headers.get("cache-control")!, /immutable/);
    assert.match(asset.headers.get("content-type")!, /javascript/);
    assert.equal((await fetch(`${server.url}/graphiql/assets/nothing-here.js`)).status, 404);
    // The build's manifest and bookkeeping sit beside the bundles but are not served.
    for (const name of ["manifest.json", "sources.json"]) assert.equal((await fetch(`${server.url}/graphiql/assets/${name}`)).status, 404, name);

    const page = await openIde();
    await page.locator(".graphiql-logo", { hasText: "Media library" }).waitFor();
    // Its own origin's WebSocket is within the policy (subscriptions go there).
    const violations = await page.evaluate(async () => {
      const seen: string[] = [];
      document.addEventListener("securitypolicyviolation", (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
      const socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
      await new Promise((r) => setTimeout(r, 300));
      socket.close();
      return seen;
    });
    assert.deepEqual(violations, []);
    await screenshot(page, "loaded");
    assert.deepEqual(browser.problems, []);
    browser.problems.length = 0;
    await page.close();
  });

  test("a browser opening /graphql gets the IDE; clients still get GraphQL", async () => {
    const page = await openIde("/graphql");
    assert.equal(await page.title(), "GraphiQL · Media library");
    await page.close();
    const json = await fetch(`${server.url}/graphql?query=${encodeURIComponent("{ mediaKinds { kind } }")}`, {
      headers: { accept: "application/json", authorization: `Bearer ${token}`, "apollo-require-preflight": "true" },
    });
    assert.equal(json.status, 200);
    assert.ok(((await json.json()) as any).data.mediaKinds.length > 0);
    assert.deepEqual(browser.problems, []);
  });

  test("a query typed into the editor runs and shows its result", async () => {
    const page = await openIde();
    await page.evaluate(() => (document.querySelector(".graphiql-query-editor .CodeMirror") as any).CodeMirror.setValue(""));
    await page.locator(".graphiql-query-editor .CodeMirror").click();
    // Typed key by key; the editor closes brackets itself, so only opening ones are typed.
    await page.keyboard.type("{ viewer { id library { ownerId ", { delay: 10 });
    await page.keyboard.press("Escape"); // closes the completion list the typing opened
    await page.locator(".CodeMirror-hints").waitFor({ state: "detached" });
    assert.match(await page.evaluate(() => (document.querySelector(".graphiql-query-editor .CodeMirror") as any).CodeMirror.getValue()), /ownerId/);
    const result = await runAndRead(page, (r) => r.data || r.errors);
    assert.deepEqual(result, { data: { viewer: { id: OWNER, library: { ownerId: OWNER } } } });
    await screenshot(page, "query");
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test("the example operations run from the run button's menu", async () => {
    const page = await openIde();
    await page.locator(".graphiql-tab-active", { hasText: /^Library$/ }).waitFor();
    await page.locator(".graphiql-execute-button").click();
    // Two operations in the editor: the button offers them (a menu whose style is under the page's nonce).
    await page.getByRole("menuitem", { name: "Library" }).click();
    const result = await resultWhen(page, (r) => r.data || r.errors);
    assert.deepEqual(result, { data: { viewer: { library: { shelfSet: { edges: [] } } } } });
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test("a file picked in the Files plugin is uploaded with uploadShelf and the shelf exists", async () => {
    const page = await openIde();
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
    const checksum = createHash("sha256").update(png).digest("hex");

    await page.locator('button[aria-label="Show Files"]').click();
    const row = page.locator(".media-files-row").first();
    await row.getByLabel("Variable path").fill("input.file");
    await row.getByLabel("File", { exact: true }).setInputFiles({ name: "picked-in-graphiql.png", mimeType: "image/png", buffer: png });
    await row.locator(".media-files-picked", { hasText: "picked-in-graphiql.png" }).waitFor();
    await setQuery(page, "mutation UploadShelf($input: UploadShelfInput!) {\n  uploadShelf(input: $input) { id kind title original { name size checksum } }\n}\n", "UploadShelf");
    await setVariables(page, '{ "input": { "title": "From the IDE" } }');
    const requests: Array<{ headers: Record<string, string>; body: string }> = [];
    page.on("request", (r) => {
      if (r.url().endsWith("/graphql") && r.method() === "POST") requests.push({ headers: r.headers(), body: r.postData() ?? "" });
    });
    const result = await runAndRead(page, (r) => r.data || r.errors);
    await screenshot(page, "upload");

    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const shelf = result.data.uploadShelf;
    assert.equal(shelf.kind, "IMAGE");
    assert.equal(shelf.title, "From the IDE");
    assert.equal(shelf.original.checksum, checksum);
    assert.equal(shelf.original.size, png.length);
    const sent = requests.at(-1)!;
    assert.match(sent.headers["content-type"]!, /^multipart\/form-data; boundary=/);
    assert.equal(sent.headers["apollo-require-preflight"], "true");
    assert.equal(sent.headers.authorization, `Bearer ${token}`);

    // The service agrees, asked from outside the browser.
    const fromNode = await graphqlFromNode(server.url, token, "query ($id: ID!) { shelf(id: $id) { id title original { checksum } } }", { id: shelf.id });
    assert.deepEqual(fromNode.data?.shelf, { id: shelf.id, title: "From the IDE", original: { checksum } });
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test("several files picked for a list go with uploadShelves in one request", async () => {
    const page = await openIde();
    const images = await Promise.all(
      ["#123456", "#abcdef"].map((background) => sharp({ create: { width: 20, height: 10, channels: 3, background } }).png().toBuffer()),
    );
    await page.locator('button[aria-label="Show Files"]').click();
    const rows = page.locator(".media-files-row");
    await rows.nth(0).getByLabel("Variable path").fill("input.files.0");
    await rows.nth(0).getByLabel("File", { exact: true }).setInputFiles({ name: "first.png", mimeType: "image/png", buffer: images[0]! });
    await page.getByRole("button", { name: "Add a file" }).click();
    // The new row suggests the next index of the list.
    assert.equal(await rows.nth(1).getByLabel("Variable path").inputValue(), "input.files.1");
    await rows.nth(1).getByLabel("File", { exact: true }).setInputFiles({ name: "second.png", mimeType: "image/png", buffer: images[1]! });
    await setQuery(page, "mutation Many($input: UploadShelvesInput!) {\n  uploadShelves(input: $input) { title original { checksum } }\n}\n", "Many");
    await setVariables(page, '{ "input": { "kind": "IMAGE" } }');
    const result = await runAndRead(page, (r) => r.data || r.errors);
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    assert.deepEqual(
      result.data.uploadShelves,
      ["first", "second"].map((title, i) => ({ title, original: { checksum: createHash("sha256").update(images[i]!).digest("hex") } })),
    );
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test("without a file for a variable the operation declares, the request stays JSON", async () => {
    const page = await openIde();
    await page.locator('button[aria-label="Show Files"]').click();
    await page.locator(".media-files-row").first().getByLabel("File", { exact: true }).setInputFiles({ name: "unused.png", mimeType: "image/png", buffer: Buffer.from("x") });
    await setQuery(page, "query Kinds { mediaKinds { kind } }", "Kinds");
    const types: string[] = [];
    page.on("request", (r) => {
      if (r.url().endsWith("/graphql") && r.method() === "POST") types.push(r.headers()["content-type"] ?? "");
    });
    const result = await runAndRead(page, (r) => r.data || r.errors);
    assert.ok(result.data.mediaKinds.some((k: { kind: string }) => k.kind === "IMAGE"));
    assert.deepEqual(types.at(-1), "application/json");
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test("the docs explorer opens and shows Shelf", async () => {
    const page = await openIde();
    const docs = page.locator('button[aria-label="Show Documentation Explorer"]');
    await docs.click();
    await page.locator(".graphiql-doc-explorer-search input").fill("Shelf");
    await page.locator(".graphiql-doc-explorer-search-type", { hasText: /^Shelf$/ }).first().click();
    await page.locator(".graphiql-doc-explorer-title", { hasText: /^Shelf$/ }).waitFor();
    await page.locator(".graphiql-doc-explorer-content", { hasText: "original" }).first().waitFor();
    await screenshot(page, "docs");
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test("a subscription started in the IDE shows the library's changes", async () => {
    const page = await openIde();
    await setQuery(page, "subscription Library {\n  libraryUpdated { change shelfId shelf { title } }\n}\n", "Library");
    await startSubscription(page);
    await new Promise((r) => setTimeout(r, 200));
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#0a0" } }).png().toBuffer();
    const form = new FormData();
    form.append("operations", JSON.stringify({ query: "mutation ($input: UploadShelfInput!) { uploadShelf(input: $input) { id } }", variables: { input: { file: null, title: "Seen live" } } }));
    form.append("map", JSON.stringify({ 0: ["variables.input.file"] }));
    form.append("0", new Blob([png]), "live.png");
    const uploaded = (await (
      await fetch(`${server.url}/graphql`, { method: "POST", headers: { authorization: `Bearer ${token}`, "apollo-require-preflight": "true" }, body: form })
    ).json()) as any;
    const id = uploaded.data.uploadShelf.id as string;
    const shown = await resultWhen(page, (r) => r.data?.libraryUpdated?.shelfId === id);
    assert.deepEqual(shown.data.libraryUpdated, { change: "CREATED", shelfId: id, shelf: { title: "Seen live" } });
    await screenshot(page, "subscription");
    await page.locator(".graphiql-execute-button").click(); // stops it
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test("a shelf subscription in the IDE shows a transcode's progress up to READY", async () => {
    // A video long enough that its 720p version takes a few progress reports to make.
    const video = await makeMp4(12, "1280x720");
    const form = new FormData();
    form.append("operations", JSON.stringify({ query: "mutation ($input: UploadShelfInput!) { uploadShelf(input: $input) { id } }", variables: { input: { file: null } } }));
    form.append("map", JSON.stringify({ 0: ["variables.input.file"] }));
    form.append("0", new Blob([new Uint8Array(video)]), "watched.mp4");
    const uploaded = (await (
      await fetch(`${server.url}/graphql`, { method: "POST", headers: { authorization: `Bearer ${token}`, "apollo-require-preflight": "true" }, body: form })
    ).json()) as any;
    const id = uploaded.data.uploadShelf.id as string;
    const page = await openIde();
    await setQuery(page, "subscription Watch($id: ID!) {\n  shelfUpdated(id: $id) { change shelfId shelf { files { preset status progress } } }\n}\n", "Watch");
    await setVariables(page, JSON.stringify({ id }));
    await startSubscription(page);
    await new Promise((r) => setTimeout(r, 200));
    // Eager versions are off in the tests' service: ask for the version, as a player would.
    const asked = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ query: 'query ($id: ID!) { shelf(id: $id) { version(preset: "mp4-720p") { status } } }', variables: { id } }),
    });
    assert.equal(asked.status, 200);
    // What the result pane shows, read as a person watching it would, until the version is READY.
    const seen: { status: string; progress: number | null }[] = [];
    const version = (result: any) =>
      result.data?.shelfUpdated?.shelfId === id ? result.data.shelfUpdated.shelf?.files.find((f: any) => f.preset === "mp4-720p") : undefined;
    let shotTaken = false;
    await resultWhen(
      page,
      (result) => {
        const file = version(result);
        if (file && (seen.length === 0 || seen.at(-1)!.status !== file.status || seen.at(-1)!.progress !== file.progress)) seen.push(file);
        return file?.status === "READY";
      },
      120_000,
      async () => {
        if (!shotTaken && seen.at(-1)?.status === "PROCESSING" && (seen.at(-1)!.progress ?? 0) > 0) {
          shotTaken = true;
          await screenshot(page, "subscription-progress");
        }
      },
    );
    const processing = seen.filter((f) => f.status === "PROCESSING").map((f) => f.progress ?? 0);
    assert.ok(processing.some((p) => p > 0 && p < 1), `progress was shown while PROCESSING: ${JSON.stringify(seen)}`);
    for (let i = 1; i < processing.length; i++) assert.ok(processing[i]! >= processing[i - 1]!, `progress only rises: ${JSON.stringify(seen)}`);
    assert.equal(seen.at(-1)!.status, "READY");
    await screenshot(page, "subscription-ready");
    await page.locator(".graphiql-execute-button").click(); // stops it
    assert.deepEqual(browser.problems, []);
    await page.close();
  });
});

describe("GraphiQL switched off", () => {
  test("production without GRAPHIQL=true serves no IDE, and a browser's GET of /graphql gets a short JSON 404", async () => {
    const server = await startTestServer("pglite", { NODE_ENV: "production" });
    try {
      for (const address of ["/graphiql", "/graphql", "/graphiql/assets/anything.js"]) {
        const res = await fetch(`${server.url}${address}`, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
        assert.equal(res.status, 404, address);
        assert.match(res.headers.get("content-type")!, /application\/json/);
        const body = (await res.json()) as any;
        assert.equal(body.errors[0].extensions.code, "NOT_FOUND");
        assert.equal(JSON.stringify(body).includes("stacktrace"), false);
      }
    } finally {
      await server.close();
    }
  });

  test("GRAPHIQL=false turns it off in development too; GRAPHIQL=true turns it on in production", async () => {
    const off = await startTestServer("pglite", { GRAPHIQL: "false" });
    try {
      const res = await fetch(`${off.url}/graphql`, { headers: { accept: "text/html" } });
      assert.equal(res.status, 404);
      assert.doesNotMatch(await res.text(), /stacktrace|at .*\.ts:/);
    } finally {
      await off.close();
    }
    const on = await startTestServer("pglite", { NODE_ENV: "production", GRAPHIQL: "true" });
    try {
      const res = await fetch(`${on.url}/graphiql`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /<div id="graphiql">/);
    } finally {
      await on.close();
    }
  });
});
