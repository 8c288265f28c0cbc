import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { StorageError } from "../src/storage/contract.js";
import { FileSystemStorage } from "../src/storage/filesystem.js";
import { InMemoryStorage } from "../src/storage/memory.js";
import { getValidName } from "../src/storage/naming.js";
import { S3Storage } from "../src/storage/s3.js";
import { UrlSigner } from "../src/storage/signing.js";
import { DatabaseStorage } from "../src/storage/database.js";
import { S3_CREDENTIALS, startS3Server } from "./helpers/s3.js";
import { databaseFlavours, startTestServer } from "./helpers/server.js";
import { storageContract } from "./helpers/storage-contract.js";

const signer = new UrlSigner("contract-signing-key-0123456789");

describe("file names", () => {
  it("makes client names valid like Django's get_valid_name", () => {
    assert.equal(getValidName("john's portrait in 2004.jpg"), "johns_portrait_in_2004.jpg");
    assert.equal(getValidName("../../etc/passwd"), "passwd");
    assert.equal(getValidName("C:\\Windows\\evil.exe"), "evil.exe");
    assert.equal(getValidName(".htaccess"), "htaccess");
    assert.equal(getValidName("naïve café.png"), "naïve_café.png");
    assert.equal(getValidName("a\u0000b\u0007c.jpg"), "abc.jpg");
    assert.equal(getValidName(`${"x".repeat(500)}.jpeg`).length, 100);
    assert.ok(getValidName(`${"x".repeat(500)}.jpeg`).endsWith(".jpeg"));
    for (const hopeless of ["", "..", ".", "///", "\u0000"]) {
      assert.throws(() => getValidName(hopeless), (err: unknown) => err instanceof StorageError && err.code === "SUSPICIOUS_NAME");
    }
  });
});

storageContract("filesystem", async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "media-fs-"));
  const options = { location: path.join(root, "media"), baseUrl: "/media/", signer };
  return {
    storage: new FileSystemStorage(options),
    overwriting: new FileSystemStorage({ ...options, allowOverwrite: true }),
    local: true,
    times: { created: true, accessed: true },
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
});

storageContract("memory", async () => ({
  storage: new InMemoryStorage({ baseUrl: "/media/", signer }),
  overwriting: new InMemoryStorage({ baseUrl: "/media/", signer, allowOverwrite: true }),
  local: false,
  times: { created: true, accessed: true },
  cleanup: async () => {},
}));

storageContract("S3 (a real S3 server on loopback)", async () => {
  const server = await startS3Server();
  const options = { bucket: server.bucket, endpoint: server.endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS, location: "prefix" };
  const storage = new S3Storage(options);
  const overwriting = new S3Storage({ ...options, fileOverwrite: true });
  return {
    storage,
    overwriting,
    local: false,
    times: { created: false, accessed: false },
    cleanup: async () => {
      storage.client.destroy();
      overwriting.client.destroy();
      await server.close();
    },
  };
});

for (const flavour of await databaseFlavours()) {
  storageContract(`database (${flavour})`, async () => {
    const server = await startTestServer(flavour);
    const prisma = server.app.db.prisma;
    return {
      storage: new DatabaseStorage({ prisma, alias: "contract", baseUrl: "/media/db/", signer, chunkSize: 256 * 1024 }),
      overwriting: new DatabaseStorage({ prisma, alias: "contract-overwrite", baseUrl: "/media/db2/", signer, allowOverwrite: true }),
      local: false,
      times: { created: true, accessed: false },
      cleanup: () => server.close(),
    };
  });
}

describe("database storage after a crash mid-write", () => {
  it("hides the unfinished object and lets gc sweep it after the grace period", async () => {
    const server = await startTestServer("pglite");
    try {
      const prisma = server.app.db.prisma;
      const storage = new DatabaseStorage({ prisma, alias: "crash", baseUrl: "/media/crash/", signer });
      const old = new Date(Date.now() - 2 * 3600_000);
      const left = await prisma.storedObject.create({ data: { storage: "crash", name: ".pending/x", chunkSize: 4, createdAt: old, modifiedAt: old } });
      await prisma.storedChunk.create({ data: { objectId: left.id, seq: 0, data: new Uint8Array([1, 2, 3, 4]) } });
      const young = await prisma.storedObject.create({ data: { storage: "crash", name: ".pending/y", chunkSize: 4 } });
      assert.equal(await storage.exists(".pending/x"), false);
      assert.deepEqual(await storage.listdir(""), { directories: [], files: [] });
      assert.equal(await storage.sweepIncomplete(new Date(Date.now() - 3600_000)), 1);
      assert.equal(await prisma.storedChunk.count({ where: { objectId: left.id } }), 0);
      assert.equal(await prisma.storedObject.count({ where: { id: young.id } }), 1, "a save still in progress is kept");
    } finally {
      await server.close();
    }
  });
});
