import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { isOriginAllowed } from "../src/http/cors.js";
import { uploadShelf } from "./helpers/graphql.js";
import { launchChromium, type Chromium } from "./helpers/chromium.js";
import { makeImage, makeWebm, sha256 } from "./helpers/media.js";
import { freePort, startPageServer } from "./helpers/loopback.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

async function preflight(url: string, origin: string, method = "POST", headers = "content-type") {
  const res = await fetch(url, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  });
  await res.arrayBuffer();
  return res;
}

const listed = (value: string | null) => (value ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);

describe("which origins may call the service", () => {
  const options = { origins: ["https://app.example.org", "https://*.example.com", "http://localhost:3000"], credentials: true };

  it("allows requests without an Origin, from the service's own origin, and from listed origins", () => {
    assert.equal(isOriginAllowed(undefined, options), true, "no Origin: a server or command-line client");
    assert.equal(isOriginAllowed("http://127.0.0.1:4000", options, "127.0.0.1:4000"), true, "the service's own origin");
    assert.equal(isOriginAllowed("https://api.internal", options, "api.internal:443"), true, "its own origin with the default port written");
    assert.equal(isOriginAllowed("https://app.example.org", options), true);
    assert.equal(isOriginAllowed("http://localhost:3000", options), true);
  });

  it("matches a pattern's subdomains at any depth, with its scheme and port only", () => {
    for (const origin of ["https://a.example.com", "https://a.b.example.com", "https://x-1.y.z.example.com"]) {
      assert.equal(isOriginAllowed(origin, options), true, origin);
    }
    for (const origin of [
      "https://example.com",
      "http://a.example.com",
      "https://a.example.com:8443",
      "https://evilexample.com",
      "https://a.evilexample.com",
      "https://example.com.evil.net",
      "https://a.example.com.",
    ]) {
      assert.equal(isOriginAllowed(origin, options), false, origin);
    }
  });

  it("refuses unlisted, opaque and malformed origins", () => {
    for (const origin of ["https://other.org", "http://app.example.org", "http://localhost:3001", "null", "", "https://app.example.org/", "HTTPS://APP.EXAMPLE.ORG", "file://"]) {
      assert.equal(isOriginAllowed(origin, options, "127.0.0.1:4000"), false, JSON.stringify(origin));
    }
    assert.equal(isOriginAllowed("https://other.org", { origins: [], credentials: false }), false, "none are listed by default");
  });

  it("allows any origin under *", () => {
    assert.equal(isOriginAllowed("https://anything.test", { origins: ["*"], credentials: false }), true);
    assert.equal(isOriginAllowed("null", { origins: ["*"], credentials: false }), true);
  });
});

describe("CORS on the service's routes", () => {
  let server: TestServer;
  let frontend: Awaited<ReturnType<typeof startPageServer>>;
  let stranger: Awaited<ReturnType<typeof startPageServer>>;
  let publicUrl: string;
  let image: { url: string };

  before(async () => {
    frontend = await startPageServer();
    stranger = await startPageServer();
    // Links the pages get must lead to the service, not to the page's own origin.
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    server = await startTestServer("pglite", {
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      CORS_ORIGINS: `${frontend.origin}, https://*.example.com`,
    });
    const bytes = await makeImage(64, 64, "png");
    const shelf = await uploadShelf(server.url, bytes, "card.png");
    image = { url: shelf.original.url };
  });
  after(async () => {
    await server?.close();
    await frontend?.close();
    await stranger?.close();
  });

  it("answers a preflight from an allowed origin with 204, before CSRF prevention runs", async () => {
    const res = await preflight(`${server.url}/graphql`, frontend.origin, "POST", "content-type,authorization,apollo-require-preflight,x-apollo-operation-name");
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), frontend.origin);
    assert.equal(res.headers.get("access-control-allow-credentials"), "true");
    assert.ok(listed(res.headers.get("access-control-allow-methods")).includes("post"));
    for (const header of ["authorization", "content-type", "apollo-require-preflight", "x-apollo-operation-name"]) {
      assert.ok(listed(res.headers.get("access-control-allow-headers")).includes(header), header);
    }
    assert.equal(res.headers.get("access-control-max-age"), "600");
    assert.ok(listed(res.headers.get("vary")).includes("origin"));
  });

  it("answers a preflight from a subdomain pattern's origin, and for the media route's headers", async () => {
    const graphql = await preflight(`${server.url}/graphql`, "https://shop.eu.example.com");
    assert.equal(graphql.status, 204);
    assert.equal(graphql.headers.get("access-control-allow-origin"), "https://shop.eu.example.com");
    const media = await preflight(image.url, frontend.origin, "GET", "range,if-none-match,if-modified-since");
    assert.equal(media.status, 204);
    for (const header of ["range", "if-none-match", "if-modified-since"]) {
      assert.ok(listed(media.headers.get("access-control-allow-headers")).includes(header), header);
    }
  });

  it("refuses a preflight from another origin with 403 and no Access-Control headers", async () => {
    for (const origin of [stranger.origin, "https://example.com", "http://a.example.com", "null"]) {
      const res = await preflight(`${server.url}/graphql`, origin);
      assert.equal(res.status, 403, origin);
      assert.deepEqual([...res.headers.keys()].filter((h) => h.startsWith("access-control-")), [], origin);
      assert.ok(listed(res.headers.get("vary")).includes("origin"));
    }
  });

  it("keeps CSRF prevention and the multipart guard on for the requests themselves", async () => {
    const form = new FormData();
    form.append("operations", JSON.stringify({ query: "{ __typename }" }));
    form.append("map", "{}");
    const multipart = await fetch(`${server.url}/graphql`, { method: "POST", headers: { origin: frontend.origin }, body: form });
    assert.equal(multipart.status, 400, "a multipart post without the preflight header");
    assert.equal(((await multipart.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code, "BAD_REQUEST");
    const plain = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { origin: frontend.origin, "content-type": "text/plain" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    assert.equal(plain.status, 400, "a simple text/plain post");
    await plain.arrayBuffer();
  });

  it("marks answers for allowed origins only, and leaves clients without an Origin alone", async () => {
    const query = (origin?: string) =>
      fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(origin ? { origin } : {}) },
        body: JSON.stringify({ query: "{ mediaKinds { kind } }" }),
      });
    const allowed = await query(frontend.origin);
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get("access-control-allow-origin"), frontend.origin);
    assert.equal(allowed.headers.get("access-control-allow-credentials"), "true");
    await allowed.arrayBuffer();
    const other = await query(stranger.origin);
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    assert.ok(listed(other.headers.get("vary")).includes("origin"), "caches keep the two answers apart");
    await other.arrayBuffer();
    const none = await query();
    assert.equal(none.status, 200);
    assert.equal(none.headers.get("access-control-allow-origin"), null);
    await none.arrayBuffer();
  });

  it("exposes the headers players and canvases read on media answers", async () => {
    const res = await fetch(image.url, { headers: { origin: frontend.origin, range: "bytes=0-9" } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("access-control-allow-origin"), frontend.origin);
    const exposed = listed(res.headers.get("access-control-expose-headers"));
    for (const header of ["content-range", "accept-ranges", "etag", "content-length", "content-disposition", "retry-after"]) {
      assert.ok(exposed.includes(header), header);
    }
    await res.arrayBuffer();
  });

  describe("from a page in Chromium on another origin", () => {
    let chromium: Chromium;
    let shots: string;
    let video: { bytes: Buffer; url: string };
    before(async () => {
      chromium = await launchChromium();
      shots = await fs.mkdtemp(path.join(os.tmpdir(), "cors-shots-"));
      const bytes = await makeWebm(1);
      video = { bytes, url: (await uploadShelf(server.url, bytes, "clip.webm")).original.url };
    });
    after(async () => {
      await chromium?.close();
      // Kept for a look when asked for; otherwise the run leaves nothing behind.
      if (process.env.KEEP_TEST_SCREENSHOTS) console.log(`screenshots in ${shots}`);
      else if (shots) await fs.rm(shots, { recursive: true, force: true });
    });

    it("queries, uploads, and reads pixels of media drawn from the service", async () => {
      const page = await chromium.context.newPage();
      const consoleErrors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(message.text());
      });
      await page.goto(`${frontend.origin}/`);
      const upload = await makeImage(48, 32, "png");
      const result = await page.evaluate(
        async ({ service, uploadBase64 }) => {
          const query = await fetch(`${service}/graphql`, {
            method: "POST",
            credentials: "include",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ query: "{ mediaKinds { kind } }" }),
          }).then((r) => r.json());

          const form = new FormData();
          form.append("operations", JSON.stringify({
            query: "mutation Up($input: UploadShelfInput!) { uploadShelf(input: $input) { id original { url checksum width height } } }",
            variables: { input: { file: null, title: "from the browser" } },
          }));
          form.append("map", JSON.stringify({ 0: ["variables.input.file"] }));
          const bytes = Uint8Array.from(atob(uploadBase64), (c) => c.charCodeAt(0));
          form.append("0", new Blob([bytes], { type: "image/png" }), "browser.png");
          const uploaded = await fetch(`${service}/graphql`, { method: "POST", headers: { "Apollo-Require-Preflight": "true" }, body: form }).then((r) => r.json());
          return { query, uploaded };
        },
        { service: server.url, uploadBase64: upload.toString("base64") },
      );
      assert.deepEqual(
        result.query.data.mediaKinds.map((k: { kind: string }) => k.kind).sort(),
        ["AUDIO", "DOCUMENT", "IMAGE", "VIDEO"],
      );
      assert.equal(result.uploaded.errors, undefined, JSON.stringify(result.uploaded.errors));
      const original = result.uploaded.data.uploadShelf.original;
      assert.equal(original.checksum, sha256(upload));
      assert.ok(original.url.startsWith(`${publicUrl}/media/`), original.url);

      const drawn = await page.evaluate(
        async ({ imageUrl, videoUrl }) => {
          const out = document.getElementById("out")!;
          const img = new Image();
          img.crossOrigin = "anonymous";
          img.src = imageUrl;
          await img.decode();
          out.append(img);
          const canvas = document.createElement("canvas");
          canvas.width = img.naturalWidth;
          canvas.height = img.naturalHeight;
          const ctx = canvas.getContext("2d")!;
          ctx.drawImage(img, 0, 0);
          const pixels = { square: [...ctx.getImageData(4, 4, 1, 1).data], background: [...ctx.getImageData(40, 28, 1, 1).data] };
          out.append(canvas);

          const video = document.createElement("video");
          video.crossOrigin = "anonymous";
          video.muted = true;
          video.preload = "auto";
          out.append(video);
          const loaded = new Promise((resolve, reject) => {
            video.addEventListener("loadeddata", resolve, { once: true });
            video.addEventListener("error", () => reject(new Error(`video error ${video.error?.code}`)), { once: true });
          });
          video.src = videoUrl;
          await loaded;
          const frame = document.createElement("canvas");
          frame.width = video.videoWidth;
          frame.height = video.videoHeight;
          const frameCtx = frame.getContext("2d")!;
          frameCtx.drawImage(video, 0, 0);
          // Throws a SecurityError unless the video was served for this origin.
          const framePixel = [...frameCtx.getImageData(1, 1, 1, 1).data];
          out.append(frame);
          return { pixels, video: { width: video.videoWidth, height: video.videoHeight, duration: video.duration }, framePixel };
        },
        { imageUrl: original.url, videoUrl: video.url },
      );
      // makeImage paints a #00aa66 square over a (200, 40, 90) card.
      assert.deepEqual(drawn.pixels.square, [0, 170, 102, 255]);
      assert.deepEqual(drawn.pixels.background, [200, 40, 90, 255]);
      assert.deepEqual([drawn.video.width, drawn.video.height], [160, 120]);
      assert.ok(drawn.video.duration > 0.5 && drawn.video.duration < 2, String(drawn.video.duration));
      assert.equal(drawn.framePixel.length, 4);

      const shot = path.join(shots, "cors-allowed-origin.png");
      await page.screenshot({ path: shot, fullPage: true });
      const meta = await sharp(shot).metadata();
      assert.ok((meta.width ?? 0) > 0 && (meta.height ?? 0) > 0);
      assert.deepEqual(chromium.failedRequests, []);
      assert.deepEqual(consoleErrors, []);
      await page.close();
    });

    it("refuses a page on an origin that is not listed", async () => {
      const page = await chromium.context.newPage();
      await page.goto(`${stranger.origin}/`);
      const outcome = await page.evaluate(
        async ({ service, imageUrl }) => {
          const query = await fetch(`${service}/graphql`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ query: "{ mediaKinds { kind } }" }),
          }).then(
            () => "read",
            (err: Error) => err.name,
          );
          const corsImage = await new Promise<string>((resolve) => {
            const img = new Image();
            img.crossOrigin = "anonymous";
            img.onload = () => resolve("loaded");
            img.onerror = () => resolve("refused");
            img.src = imageUrl;
          });
          // Without crossorigin the image still shows (links keep working), but its pixels stay closed.
          const plain = new Image();
          plain.src = imageUrl;
          await plain.decode();
          document.getElementById("out")!.append(plain);
          const canvas = document.createElement("canvas");
          const ctx = canvas.getContext("2d")!;
          ctx.drawImage(plain, 0, 0);
          let pixels = "read";
          try {
            ctx.getImageData(0, 0, 1, 1);
          } catch (err) {
            pixels = (err as Error).name;
          }
          return { query, corsImage, pixels };
        },
        { service: server.url, imageUrl: image.url },
      );
      assert.deepEqual(outcome, { query: "TypeError", corsImage: "refused", pixels: "SecurityError" });
      await page.screenshot({ path: path.join(shots, "cors-other-origin.png"), fullPage: true });
      await page.close();
    });
  });
});

describe("CORS for any origin, without credentials", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", { CORS_ORIGINS: "*", CORS_CREDENTIALS: "false" });
  });
  after(() => server?.close());

  it("answers every origin with *, never with credentials", async () => {
    const res = await preflight(`${server.url}/graphql`, "https://anywhere.test");
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-allow-credentials"), null);
    const query = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://elsewhere.test" },
      body: JSON.stringify({ query: "{ mediaKinds { kind } }" }),
    });
    assert.equal(query.headers.get("access-control-allow-origin"), "*");
    await query.arrayBuffer();
    const withoutOrigin = await fetch(`${server.url}/graphql?query=${encodeURIComponent("{ __typename }")}`, { headers: { "apollo-require-preflight": "true" } });
    assert.equal(withoutOrigin.status, 200);
    assert.equal(withoutOrigin.headers.get("access-control-allow-origin"), "*", "the same answer for every client, so a cache may share it");
    await withoutOrigin.arrayBuffer();
  });
});

describe("CORS with no origin listed (the default)", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite");
  });
  after(() => server.close());

  it("refuses another origin's preflight and adds nothing to other answers", async () => {
    const preflight = await fetch(`${server.url}/graphql`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    const answer = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { origin: "https://app.example.com", "content-type": "application/json" },
      body: JSON.stringify({ query: "{ mediaKinds { kind } }" }),
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("access-control-allow-origin"), null);
    assert.equal(answer.headers.get("vary"), null);
  });
});
