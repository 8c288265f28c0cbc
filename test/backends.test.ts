import assert from "node:assert/strict";
import http from "node:http";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buffer } from "node:stream/consumers";
import { after, before, describe, it } from "node:test";
import { DeleteShelfDocument, GetShelfDocument, ShelfSetDocument, UploadShelfDocument } from "./generated/graphql.js";
import { errorCode, gql, multipartBody, upload } from "./helpers/graphql.js";
import { makeImage, makeMp4, makePdf, sha256 } from "./helpers/media.js";
import { startS3Server, type S3Server } from "./helpers/s3.js";
import { databaseFlavours, s3Env, startTestServer, type TestServer } from "./helpers/server.js";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { Storage } from "../src/storage/contract.js";
import { S3Storage } from "../src/storage/s3.js";

/**
 * Every name stored in `storage`. S3 is listed flat, straight from the store: the S3 server the
 * tests run drops keys more than one level below a delimiter listing's prefix.
 */
async function storedNames(storage: Storage, dir = ""): Promise<string[]> {
  if (storage instanceof S3Storage) {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await storage.client.send(new ListObjectsV2Command({ Bucket: "media", Prefix: "media/", ContinuationToken: token }));
      for (const o of page.Contents ?? []) names.push(o.Key!.slice("media/".length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return names.sort();
  }
  const { directories, files } = await storage.listdir(dir).catch(() => ({ directories: [], files: [] }));
  const prefix = dir === "" ? "" : `${dir}/`;
  const nested = await Promise.all(directories.map((d) => storedNames(storage, prefix + d)));
  return [...files.map((f) => prefix + f), ...nested.flat()].sort();
}

interface Backend {
  label: string;
  serve?: "direct" | "redirect" | "proxy";
  start(): Promise<{ server: TestServer; close(): Promise<void> }>;
}

const backends: Backend[] = [
  ...(await databaseFlavours()).map((flavour) => ({
    label: `database storage (${flavour})`,
    async start() {
      const server = await startTestServer(flavour, { STORAGE: "database" });
      return { server, close: () => server.close() };
    },
  })),
  ...(["proxy", "redirect", "direct"] as const).map((serve) => ({
    label: `S3 storage served ${serve}`,
    serve,
    async start() {
      const s3 = await startS3Server();
      const server = await startTestServer("pglite", s3Env(s3, serve));
      return {
        server,
        async close() {
          await server.close();
          await s3.close();
        },
      };
    },
  })),
];

for (const backend of backends) {
  describe(`core service on ${backend.label}`, () => {
    let server: TestServer;
    let close: () => Promise<void>;
    let storage: Storage;
    before(async () => {
      ({ server, close } = await backend.start());
      storage = server.app.services.storages.get("default");
    });
    after(() => close());

    const absolute = (url: string) => (url.startsWith("http") ? url : server.url + url);

    it("uploads: the stored bytes are the uploaded bytes, analysed where they are kept", async () => {
      const video = await makeMp4(1);
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes: video, filename: "clip.mp4" }]);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      const shelf = res.data!.uploadShelf;
      assert.equal(shelf.__typename, "VideoShelf");
      assert.deepEqual([shelf.original.width, shelf.original.height], [320, 240], "probed from a local copy of the stored object");
      assert.equal(sha256(await buffer(await storage.open(shelf.original.name))), sha256(video));
      assert.deepEqual(await storedNames(storage), [shelf.original.name], `nothing staged is left: ${JSON.stringify(await storedNames(storage))}`);
    });

    it("serves: whole files and byte ranges, by the route its serving mode gives", async () => {
      const bytes = await makeImage(50, 40, "png");
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes, filename: "pic.png" }]);
      const url = absolute(res.data!.uploadShelf.original.url);
      const whole = await fetch(url);
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get("content-type"), "image/png");
      assert.equal(sha256(Buffer.from(await whole.arrayBuffer())), sha256(bytes));
      const part = await fetch(url, { headers: { range: "bytes=8-15" } });
      assert.equal(part.status, 206);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(8, 16));
      if (backend.serve === "redirect") {
        const hop = await fetch(url, { redirect: "manual" });
        assert.equal(hop.status, 302);
        assert.match(hop.headers.get("location")!, /X-Amz-Signature=/);
      }
      if (backend.serve === "redirect" || backend.serve === "proxy") {
        assert.match(url, /[?&]signature=/, "a private bucket stays private behind the media route");
        assert.equal((await fetch(url.split("?")[0]!)).status, 403);
      }
      if (backend.serve === "direct") assert.match(url, /X-Amz-Signature=/, "direct links are presigned");
    });

    it("deletes: every stored byte goes", async () => {
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes: makePdf(), filename: "gone.pdf" }]);
      const shelf = res.data!.uploadShelf;
      assert.equal(await storage.exists(shelf.original.name), true);
      const del = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
      assert.equal(del.data?.deleteShelf.deleted, true);
      await server.app.services.deletions.idle();
      assert.equal(await storage.exists(shelf.original.name), false);
      assert.equal((await gql(server.url, GetShelfDocument, { id: shelf.id })).data!.shelf, null);
    });

    it("refuses bad input and keeps nothing of it", async () => {
      const before = await storedNames(storage);
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes: Buffer.from("<html>not an image</html>"), filename: "x.jpg" },
      ]);
      assert.equal(errorCode(res), "UNSUPPORTED_MEDIA_TYPE");
      const broken = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes: Buffer.concat([(await makeMp4(1)).subarray(0, 32), Buffer.alloc(2048, 0xff)]), filename: "broken.mp4" },
      ]);
      assert.equal(errorCode(broken), "BAD_USER_INPUT", "refused after its bytes were written");
      assert.deepEqual(await storedNames(storage), before);
    });
  });
}

describe("S3 stopped in the middle of an upload", () => {
  let s3: S3Server;
  let server: TestServer;
  before(async () => {
    s3 = await startS3Server();
    server = await startTestServer("pglite", s3Env(s3, "proxy"));
  });
  after(async () => {
    await server.close();
    await s3.close();
  });

  it("answers STORAGE_UNAVAILABLE, writes no row and leaves no object", async () => {
    const big = Buffer.concat([makePdf(), Buffer.alloc(40 * 1024 * 1024, 0x41)]);
    const form = multipartBody(UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes: big, filename: "cut.pdf" }]);
    const response = new Response(form);
    const contentType = response.headers.get("content-type")!;
    const body = Buffer.from(await response.arrayBuffer());
    const url = new URL(`${server.url}/graphql`);
    const answer = new Promise<{ status: number; json: { errors?: Array<{ extensions?: { code?: string } }> } }>((resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "content-type": contentType, "content-length": body.length, "apollo-require-preflight": "true" } },
        (res) => buffer(res).then((b) => resolve({ status: res.statusCode!, json: JSON.parse(b.toString()) }), reject),
      );
      req.on("error", reject);
      // Send the first 20 MiB, stop the store while parts are in flight, then send the rest.
      req.write(body.subarray(0, 20 * 1024 * 1024), () => {
        setTimeout(() => {
          void s3.stop().then(() => req.end(body.subarray(20 * 1024 * 1024)));
        }, 100);
      });
    });
    const result = await answer;
    assert.equal(result.json.errors?.[0]?.extensions?.code, "STORAGE_UNAVAILABLE", JSON.stringify(result.json));
    const list = await gql(server.url, ShelfSetDocument, { first: 10 });
    assert.equal(list.data!.viewer.library.shelfSet.totalCount, 0, "no row");
    await s3.start();
    assert.deepEqual(await storedNames(server.app.services.storages.get("default")), [], "no object, complete or partial");
  });

  it("answers 503 from the media route while the store is down, and serves again once it is back", async () => {
    const pdf = makePdf("while down");
    const shelf = (await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes: pdf, filename: "down.pdf" }])).data!.uploadShelf;
    await s3.stop();
    const down = await fetch(server.url + shelf.original.url);
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("content-disposition"), null);
    await down.arrayBuffer();
    await s3.start();
    const up = await fetch(server.url + shelf.original.url);
    assert.equal(up.status, 200);
    assert.equal(sha256(Buffer.from(await up.arrayBuffer())), sha256(pdf));
  });
});

describe("storage configuration file: aliases, routing, upload routes, private files", () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "media-config-"));
    const config = {
      storages: {
        default: { backend: "filesystem" },
        images: { backend: "memory" },
        private: { backend: "filesystem", options: { location: path.join(dir, "private"), querystringAuth: true, querystringExpire: 60 } },
      },
      routing: { IMAGE: { original: "images" }, DOCUMENT: { original: "private" } },
      uploadRoutes: { DOCUMENT: "{owner}/docs/{yyyy}/{uuid}.{ext}" },
    };
    await fs.writeFile(path.join(dir, "storage.json"), JSON.stringify(config));
    server = await startTestServer("pglite", { STORAGE_CONFIG: path.join(dir, "storage.json") });
  });
  after(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("routes each kind's originals to its alias and serves each alias under its own prefix", async () => {
    const image = await makeImage(12, 12, "jpeg");
    const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes: image, filename: "routed.jpg" }]);
    const file = res.data!.uploadShelf.original;
    assert.match(file.url, /^\/media\/@images\/image\//);
    assert.equal(await server.app.services.storages.get("images").exists(file.name), true);
    assert.equal(await server.app.services.storages.get("default").exists(file.name), false);
    const served = await fetch(server.url + file.url);
    assert.equal(sha256(Buffer.from(await served.arrayBuffer())), sha256(image));
    assert.equal((await fetch(`${server.url}/media/${file.name}`)).status, 404, "not under the default alias");
  });

  it("places uploads by the kind's upload route", async () => {
    const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes: makePdf(), filename: "contract.pdf" }]);
    assert.match(res.data!.uploadShelf.original.name, /^local\/docs\/\d{4}\/[0-9a-f-]{36}\.pdf$/);
  });

  it("serves private files only through signed, expiring links", async () => {
    const pdf = makePdf("secret");
    const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes: pdf, filename: "secret.pdf" }]);
    const url = res.data!.uploadShelf.original.url;
    assert.match(url, /^\/media\/@private\/.+\?expires=\d+&signature=[\w-]+$/);
    const ok = await fetch(server.url + url);
    assert.equal(ok.status, 200);
    assert.equal(sha256(Buffer.from(await ok.arrayBuffer())), sha256(pdf));

    const bare = url.split("?")[0]!;
    assert.equal((await fetch(server.url + bare)).status, 403, "no signature");
    const tampered = url.replace(/signature=([\w-])/, (_m, c: string) => `signature=${c === "A" ? "B" : "A"}`);
    assert.equal((await fetch(server.url + tampered)).status, 403, "changed signature");
    const longer = url.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 3600}`);
    assert.equal((await fetch(server.url + longer)).status, 403, "changed expiry");
    const other = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes: makePdf("other"), filename: "other.pdf" }]);
    const otherPath = other.data!.uploadShelf.original.url.split("?")[0]!;
    assert.equal((await fetch(server.url + otherPath + "?" + url.split("?")[1])).status, 403, "a link for another file");

    const { UrlSigner } = await import("../src/storage/signing.js");
    const signer = new UrlSigner((await fs.readFile(path.join(server.dataDir, "signing.key"), "utf8")).trim());
    const name = res.data!.uploadShelf.original.name;
    const expired = signer.query("private", name, 60, false, Date.now() - 3600_000);
    const gone = await fetch(`${server.url}${bare}?${expired}`);
    assert.equal(gone.status, 403);
    assert.match(await gone.text(), /expired/);
    const download = signer.query("private", name, 60, true);
    const saved = await fetch(`${server.url}${bare}?${download}`);
    assert.match(saved.headers.get("content-disposition")!, /^attachment/);
    await saved.arrayBuffer();
  });
});
