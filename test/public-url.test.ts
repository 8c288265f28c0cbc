import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { GetShelfDocument, UpdateShelfDocument } from "./generated/graphql.js";
import { gql, uploadShelf } from "./helpers/graphql.js";
import { freePort } from "./helpers/loopback.js";
import { makeImage, sha256 } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Media links a frontend on another origin can use as they are. */
describe("PUBLIC_URL", () => {
  let server: TestServer;
  let publicUrl: string;
  let image: { bytes: Buffer; url: string; shelfId: string };
  before(async () => {
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    server = await startTestServer("pglite", { PORT: String(port), PUBLIC_URL: publicUrl });
    const bytes = await makeImage(16, 16, "png");
    const shelf = await uploadShelf(server.url, bytes, "card.png");
    image = { bytes, url: shelf.original.url, shelfId: shelf.id };
  });
  after(() => server?.close());

  it("returns absolute media URLs under PUBLIC_URL that fetch, signed links that still verify", async () => {
    assert.ok(image.url.startsWith(`${publicUrl}/media/image/`), image.url);
    assert.match(image.url, /\?expires=\d+&signature=[\w-]+$/, "a PRIVATE shelf's link is signed");
    const res = await fetch(image.url);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(image.bytes));
    const tampered = await fetch(image.url.replace(/signature=./, (m) => (m.endsWith("A") ? "signature=B" : "signature=A")));
    assert.equal(tampered.status, 403);
    await tampered.arrayBuffer();

    const updated = await gql(server.url, UpdateShelfDocument, { id: image.shelfId, input: { visibility: "PUBLIC" } });
    assert.equal(updated.errors, undefined, JSON.stringify(updated.errors));
    const fetched = await gql(server.url, GetShelfDocument, { id: image.shelfId });
    const url = fetched.data!.shelf!.original.url;
    assert.ok(url.startsWith(`${publicUrl}/media/image/`) && !url.includes("?"), url);
    const stable = await fetch(url);
    assert.equal(stable.status, 200);
    assert.equal(sha256(Buffer.from(await stable.arrayBuffer())), sha256(image.bytes));
  });
});

describe("an absolute MEDIA_URL", () => {
  let server: TestServer;
  let mediaUrl: string;
  before(async () => {
    const port = await freePort();
    mediaUrl = `http://127.0.0.1:${port}/files/`;
    server = await startTestServer("pglite", { PORT: String(port), MEDIA_URL: mediaUrl, PUBLIC_URL: "http://public.invalid" });
  });
  after(() => server?.close());

  it("is used as written (over PUBLIC_URL) and served at its path", async () => {
    const bytes = await makeImage(16, 16, "png");
    const shelf = await uploadShelf(server.url, bytes, "abs.png");
    assert.ok(shelf.original.url.startsWith(`${mediaUrl}image/`), shelf.original.url);
    const res = await fetch(shelf.original.url);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(bytes));
  });
});

describe("PUBLIC_URL with a path, behind a proxy that strips it", () => {
  let server: TestServer;
  let proxy: http.Server;
  let publicUrl: string;
  before(async () => {
    // What a reverse proxy mounting the service under /api does: forward without the prefix.
    proxy = http.createServer((req, res) => {
      const target = new URL(server.url);
      const forwarded = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url!.replace(/^\/api(?=\/)/, ""), headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    publicUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/api`;
    server = await startTestServer("pglite", { PUBLIC_URL: `${publicUrl}/` });
  });
  after(async () => {
    await server?.close();
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });

  it("links under the prefix while the route stays at MEDIA_URL's path", async () => {
    const bytes = await makeImage(16, 16, "png");
    const shelf = await uploadShelf(publicUrl, bytes, "proxied.png");
    assert.ok(shelf.original.url.startsWith(`${publicUrl}/media/image/`), shelf.original.url);
    const res = await fetch(shelf.original.url);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(bytes));
  });
});
