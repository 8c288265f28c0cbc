import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type BrowserContext } from "playwright-core";
import sharp from "sharp";
import { buildClient } from "../scripts/build-client.js";
import { sha256 } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Where copies of the screenshots go for a person to look at, when set; the test keeps its own in its sandbox. */
const SHOTS = process.env.TEST_SCREENSHOTS_DIR;

/** The page a frontend on another origin would be: the built bundle, a file input, a progress bar, a list. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Client kit</title>
<style>body{font:15px system-ui,sans-serif;margin:2em}progress{width:24em}li{margin:.3em 0}</style></head>
<body>
<h1>Upload</h1>
<input type="file" id="file">
<p><progress id="bar" value="0" max="1"></progress> <span id="status">idle</span></p>
<h2>Library</h2>
<ul id="list"></ul>
<script type="module">
  import { createMediaClient, LibraryPageDocument } from "/client.js";
  const client = createMediaClient({ url: new URLSearchParams(location.search).get("api") });
  window.progressLog = [];
  const status = document.getElementById("status");
  async function list() {
    const page = await client.request(LibraryPageDocument, { first: 20 });
    document.getElementById("list").replaceChildren(...page.viewer.library.shelfSet.edges.map(({ node }) => {
      const li = document.createElement("li");
      li.dataset.id = node.id;
      li.textContent = node.title + " (" + node.__typename + ", " + node.original.size + " bytes, " + node.original.checksum + ")";
      return li;
    }));
  }
  document.getElementById("file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    try {
      const shelf = await client.uploadShelf(file, { title: "From the page" }, {
        onProgress: ({ loaded, total }) => {
          window.progressLog.push(loaded);
          const bar = document.getElementById("bar");
          bar.max = total;
          bar.value = loaded;
          status.textContent = loaded + " of " + total + " bytes sent";
        },
      });
      status.textContent += ", stored as " + shelf.id;
      await list();
      document.body.dataset.done = "yes";
    } catch (err) {
      status.textContent = "failed: " + (err.code ?? "") + " " + err.message;
      document.body.dataset.done = "failed";
    }
  });
  list();
</script>
</body></html>`;

describe("client kit in Chromium, on another origin", () => {
  let server: TestServer;
  let pageServer: http.Server;
  let pageOrigin: string;
  let context: BrowserContext | undefined;
  let profile: string;

  before(async () => {
    const dist = await buildClient({ types: false });
    const bundle = await fs.readFile(path.join(dist, "index.js"));
    pageServer = http.createServer((req, res) => {
      if (req.url?.startsWith("/client.js")) return res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
      if (req.url === "/" || req.url?.startsWith("/?")) return res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    server = await startTestServer("pglite", { CORS_ORIGINS: pageOrigin });
    profile = await fs.mkdtemp(path.join(os.tmpdir(), "client-chromium-"));
  });
  after(async () => {
    await context?.close();
    await new Promise((resolve) => pageServer.close(resolve));
    await server.close();
    await fs.rm(profile, { recursive: true, force: true });
  });

  it("uploads a file with progress shown on the page and lists it", async () => {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1100, height: 600 },
    });
    const failed: string[] = [];
    const errors: string[] = [];
    await context.route("**/*", (route) => {
      const { hostname } = new URL(route.request().url());
      return hostname === "127.0.0.1" ? route.continue() : route.abort();
    });
    const page = await context.newPage();
    // Loopback sends the file before the browser's first progress event is due: a phone's
    // uplink (about 2 MB/s) lets the page show the upload under way.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2_000_000 });
    page.on("requestfailed", (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(`${pageOrigin}/?api=${encodeURIComponent(`${server.url}/graphql`)}`);

    const bytes = await sharp({ create: { width: 800, height: 800, channels: 3, background: "#000", noise: { type: "gaussian", mean: 128, sigma: 60 } } }).png().toBuffer();
    await page.setInputFiles("#file", { name: "noise.png", mimeType: "image/png", buffer: bytes });
    await page.waitForSelector("body[data-done]", { timeout: 60_000 });
    const status = await page.textContent("#status");
    assert.equal(await page.getAttribute("body", "data-done"), "yes", status ?? "");

    const log = (await page.evaluate("window.progressLog")) as number[];
    assert.ok(log.length >= 1, "progress was reported");
    for (let i = 1; i < log.length; i++) assert.ok(log[i]! > log[i - 1]!, "progress only rises");
    assert.equal(log.at(-1), bytes.length);
    // The browser's own upload events were heard, not only the final report.
    assert.ok(log.some((loaded) => loaded > 0 && loaded < bytes.length), `progress while sending: ${JSON.stringify(log)}`);
    assert.match(status ?? "", new RegExp(`${bytes.length} of ${bytes.length} bytes sent`));
    const item = await page.textContent("#list li");
    assert.match(item ?? "", new RegExp(`From the page \\(ImageShelf, ${bytes.length} bytes, ${sha256(bytes)}\\)`));

    const shot = path.join(server.sandbox, "client-upload.png");
    await page.screenshot({ path: shot });
    if (SHOTS) await fs.mkdir(SHOTS, { recursive: true }).then(() => fs.copyFile(shot, path.join(SHOTS, "client-upload.png")));
    assert.deepEqual(failed, [], "no request failed");
    assert.deepEqual(errors, [], "no error on the page");
  });
});
