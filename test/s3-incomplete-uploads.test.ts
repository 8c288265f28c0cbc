import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { collectGarbage } from "../src/media/gc.js";
import { S3Storage } from "../src/storage/s3.js";
import { startS3Server, S3_CREDENTIALS, type S3Server } from "./helpers/s3.js";
import { startTestServer, s3Env, type TestServer } from "./helpers/server.js";

const MINUTE = 60_000;

/** An upload started and given one part, then left as a crash would leave it. */
async function abandonUpload(client: S3Client, bucket: string, key: string): Promise<string> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(64 * 1024, 7) }));
  return UploadId!;
}

async function unfinishedKeys(client: S3Client, bucket: string): Promise<string[]> {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (page.Uploads ?? []).map((u) => u.Key!).sort();
}

describe("gc aborts S3 multipart uploads a crash left unfinished", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", {}, "s3");
  });
  after(() => server.close());

  it("aborts those older than the grace period under the storage's prefix, and only those", async () => {
    const storage = server.app.services.storages.get("default");
    assert.ok(storage instanceof S3Storage);
    const client = storage.client;
    await abandonUpload(client, "media", "media/image/2026/12/abandoned/crash.jpg");
    // Another application's upload in the same bucket, outside this storage's location.
    await abandonUpload(client, "media", "elsewhere/their-upload.bin");
    assert.deepEqual(await unfinishedKeys(client, "media"), ["elsewhere/their-upload.bin", "media/image/2026/12/abandoned/crash.jpg"]);

    const logs: string[] = [];
    const young = await collectGarbage(server.app.db.prisma, server.app.services.storages, { graceMs: 10 * MINUTE, log: (m) => logs.push(m) });
    assert.equal(young.incomplete, 0, "an upload younger than the grace period may still be under way");
    assert.equal((await unfinishedKeys(client, "media")).length, 2);

    const later = () => new Date(Date.now() + 11 * MINUTE);
    const old = await collectGarbage(server.app.db.prisma, server.app.services.storages, { graceMs: 10 * MINUTE, now: later, log: (m) => logs.push(m) });
    assert.equal(old.incomplete, 1);
    assert.deepEqual(await unfinishedKeys(client, "media"), ["elsewhere/their-upload.bin"]);
    assert.ok(logs.some((l) => /aborted 1 unfinished upload\(s\) in default/.test(l)), logs.join("\n"));
  });

  it("a dry run only counts them", async () => {
    const storage = server.app.services.storages.get("default") as S3Storage;
    await abandonUpload(storage.client, "media", "media/video/left.mp4");
    const report = await collectGarbage(server.app.db.prisma, server.app.services.storages, { graceMs: 0, dryRun: true, now: () => new Date(Date.now() + MINUTE) });
    assert.equal(report.incomplete, 1);
    assert.ok((await unfinishedKeys(storage.client, "media")).includes("media/video/left.mp4"));
    await collectGarbage(server.app.db.prisma, server.app.services.storages, { graceMs: 0, now: () => new Date(Date.now() + MINUTE) });
    assert.deepEqual(await unfinishedKeys(storage.client, "media"), ["elsewhere/their-upload.bin"]);
  });
});

describe("gc on a store that cannot list unfinished uploads", () => {
  let s3: S3Server;
  before(async () => {
    s3 = await startS3Server("media", { incompleteUploads: false });
  });
  after(() => s3.close());

  it("says so and goes on with the orphans", async () => {
    const server = await startTestServer("pglite", s3Env(s3, "proxy"));
    try {
      const storages = server.app.services.storages;
      const logs: string[] = [];
      const report = await collectGarbage(server.app.db.prisma, storages, { graceMs: 0, log: (m) => logs.push(m) });
      assert.equal(report.incomplete, 0);
      assert.ok(logs.some((l) => /cannot list unfinished uploads/.test(l)), logs.join("\n"));
    } finally {
      await server.close();
    }
  });

  it("S3Storage reports NOT_SUPPORTED", async () => {
    const storage = new S3Storage({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS });
    try {
      await assert.rejects(storage.sweepIncomplete(new Date()), { code: "NOT_SUPPORTED" });
    } finally {
      storage.client.destroy();
    }
  });
});

describe("an old multipart upload that still writes parts", () => {
  it("is left alone: a large save still streaming", async () => {
    const s3 = await startS3Server();
    const storage = new S3Storage({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS, location: "media" });
    try {
      const slow = await abandonUpload(storage.client, s3.bucket, "media/video/slow.mp4");
      const dead = await abandonUpload(storage.client, s3.bucket, "media/video/dead.mp4");
      // Both began two hours ago; only the dead one's parts are as old.
      const twoHoursAgo = new Date(Date.now() - 120 * MINUTE);
      const uploads = path.join(s3.directory, s3.bucket, "._S3rver_uploads");
      await fs.utimes(path.join(uploads, slow, "key"), twoHoursAgo, twoHoursAgo);
      await fs.utimes(path.join(uploads, dead, "key"), twoHoursAgo, twoHoursAgo);
      await fs.utimes(path.join(uploads, dead, "1"), twoHoursAgo, twoHoursAgo);
      assert.equal(await storage.sweepIncomplete(new Date(Date.now() - 60 * MINUTE)), 1);
      assert.deepEqual(await unfinishedKeys(storage.client, s3.bucket), ["media/video/slow.mp4"]);
    } finally {
      storage.client.destroy();
      await s3.close();
    }
  });
});
