import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { FileSystemStorage } from "../src/storage/filesystem.js";
import { InMemoryStorage } from "../src/storage/memory.js";
import { normalizingImageExtensions } from "../src/storage/normalize.js";
import { StorageRegistry } from "../src/storage/registry.js";
import { S3Storage } from "../src/storage/s3.js";
import { StorageSettingsSchema } from "../src/storage/settings.js";
import { UrlSigner } from "../src/storage/signing.js";
import { makeImage, makePdf } from "./helpers/media.js";
import { S3_CREDENTIALS, startS3Server, type S3Server } from "./helpers/s3.js";

const bytes = (b: Buffer | string) => Readable.from([Buffer.from(b)]);

describe("filesystem storage options", () => {
  let root: string;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "media-fsopt-"));
  });
  after(() => fs.rm(root, { recursive: true, force: true }));

  it("applies file and directory permission modes", async () => {
    // Group-writable modes, which a default umask (022) would cut.
    const storage = new FileSystemStorage({ location: root, baseUrl: "/m/", filePermissionsMode: 0o664, directoryPermissionsMode: 0o775 });
    const name = await storage.save("perm/dir/file.txt", bytes("x"));
    assert.equal((await fs.stat(path.join(root, name))).mode & 0o777, 0o664);
    assert.equal((await fs.stat(path.join(root, "perm/dir"))).mode & 0o777, 0o775);
    assert.equal((await fs.stat(path.join(root, "perm"))).mode & 0o777, 0o775);
  });
});

describe("image extension normalisation", () => {
  it("stores images under the lower-case extension of their detected format, other files as named", async () => {
    const storage = normalizingImageExtensions(new InMemoryStorage({ baseUrl: "/m/" }));
    assert.equal(await storage.save("pics/Photo.JPEG", bytes(await makeImage(4, 4, "png"))), "pics/Photo.png");
    assert.equal(await storage.save("pics/Other.PNG", bytes(await makeImage(4, 4, "jpeg"))), "pics/Other.jpg");
    assert.equal(await storage.save("docs/Report.PDF", bytes(makePdf())), "docs/Report.PDF");
    assert.equal(await storage.exists("pics/Photo.png"), true);
  });
});

describe("S3 storage options", () => {
  let s3: S3Server;
  const clients: S3Storage[] = [];
  const make = (extra: Partial<ConstructorParameters<typeof S3Storage>[0]> = {}) => {
    const storage = new S3Storage({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS, ...extra });
    clients.push(storage);
    return storage;
  };
  before(async () => {
    s3 = await startS3Server();
  });
  after(async () => {
    for (const c of clients) c.client.destroy();
    await s3.close();
  });

  it("applies object parameters to every upload", async () => {
    const storage = make({ objectParameters: { CacheControl: "max-age=86400", ContentDisposition: "inline" } });
    const name = await storage.save("params/a.txt", bytes("a"), { contentType: "text/plain" });
    const head = await storage.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: name }));
    assert.equal(head.CacheControl, "max-age=86400");
    assert.equal(head.ContentType, "text/plain");
  });

  it("gives presigned links that the store honours, custom-domain links, or plain ones", async () => {
    const storage = make({ location: "loc" });
    const name = await storage.save("links/a b.txt", bytes("hello"));
    const signed = await storage.url(name);
    assert.match(signed, /X-Amz-Signature=/);
    const fetched = await fetch(signed);
    assert.equal(await fetched.text(), "hello");
    const download = await storage.url(name, { download: true });
    assert.match((await fetch(download)).headers.get("content-disposition") ?? "", /attachment/);
    assert.equal(await make({ location: "loc", customDomain: "cdn.example.com" }).url(name), "https://cdn.example.com/loc/links/a%20b.txt");
    assert.equal(await make({ location: "loc", querystringAuth: false }).url(name), `${s3.endpoint}/${s3.bucket}/loc/links/a%20b.txt`);
  });

  it("lists a directory past the store's 1000-key page", async () => {
    const storage = make({ location: "many" });
    const names = Array.from({ length: 1010 }, (_, i) => `big/f${String(i).padStart(4, "0")}.txt`);
    // A few at a time: the loopback S3 server fails under many concurrent writes to one folder.
    for (let i = 0; i < names.length; i += 8) {
      await Promise.all(names.slice(i, i + 8).map((n) => storage.save(n, bytes("x"))));
    }
    const { files } = await storage.listdir("big");
    assert.equal(files.length, 1010);
    assert.equal(new Set(files).size, 1010);
  });
});

describe("storage registry", () => {
  it("builds each alias once, on first use, and creates ad-hoc backends from settings", async () => {
    const settings = StorageSettingsSchema.parse({ storages: { default: { backend: "memory" }, other: { backend: "memory", options: { baseUrl: "/o/" } } } });
    const registry = new StorageRegistry({ settings, mediaRoot: "/nowhere", mediaUrl: "/media/", signer: new UrlSigner("registry-test-key-0123456789"), prisma: undefined as never });
    assert.equal(registry.get("default"), registry.get("default"));
    assert.notEqual(registry.get("default"), registry.get("other"));
    assert.deepEqual(Object.keys(registry.backends), ["default", "other"]);
    const adhoc = registry.createStorage({ backend: "memory", options: {} });
    assert.notEqual(adhoc, registry.createStorage({ backend: "memory", options: {} }));
    assert.throws(() => registry.get("missing"), /No storage configured under the alias "missing"/);
    assert.equal(await registry.url("other", "a/b.txt"), "/o/a/b.txt");
    assert.equal(await registry.url("default", "a/b.txt"), "/media/a/b.txt");
    assert.equal(registry.aliasFor("IMAGE", "original"), "default");
  });

  it("routes each kind's originals and versions to their aliases, with \"*\" and then default as fallbacks", () => {
    const settings = StorageSettingsSchema.parse({
      storages: { default: { backend: "memory" }, originals: { backend: "memory" }, versions: { backend: "memory" } },
      routing: { VIDEO: { original: "originals", version: "versions" }, "*": { version: "versions" } },
    });
    const registry = new StorageRegistry({ settings, mediaRoot: "/nowhere", mediaUrl: "/media/", signer: new UrlSigner("registry-test-key-0123456789"), prisma: undefined as never });
    assert.equal(registry.aliasFor("VIDEO", "original"), "originals");
    assert.equal(registry.aliasFor("VIDEO", "version"), "versions");
    assert.equal(registry.aliasFor("IMAGE", "original"), "default");
    assert.equal(registry.aliasFor("IMAGE", "version"), "versions");
  });

  it("refuses aliases that overlap, whose files gc would take for each other's orphans", () => {
    const make = (storages: object) =>
      new StorageRegistry({ settings: StorageSettingsSchema.parse({ storages }), mediaRoot: "/srv/media", mediaUrl: "/media/", signer: new UrlSigner("registry-test-key-0123456789"), prisma: undefined as never });
    assert.throws(() => make({ default: { backend: "filesystem" }, inner: { backend: "filesystem", options: { location: "/srv/media/private" } } }), /overlap/);
    assert.throws(() => make({ default: { backend: "s3", options: { bucket: "b" } }, x: { backend: "s3", options: { bucket: "b", location: "x" } } }), /overlap/);
    make({ default: { backend: "filesystem" }, other: { backend: "filesystem", options: { location: "/srv/media-private" } } });
    make({ default: { backend: "s3", options: { bucket: "b", location: "a" } }, x: { backend: "s3", options: { bucket: "b", location: "ab" } } });
  });
});
