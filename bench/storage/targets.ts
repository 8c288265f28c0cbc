import { Upload } from "@aws-sdk/lib-storage";
import { DeleteObjectCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Storage } from "../../src/storage/contract.js";
import { FileSystemStorage } from "../../src/storage/filesystem.js";
import { S3Storage } from "../../src/storage/s3.js";
import { fsyncFile } from "../harness/files.js";
import { MiB } from "../harness/settings.js";
import { consume, expectedHash, source } from "./data.js";

/** What is measured: the adapters and their raw baselines behind one small interface. */

/** S3 multipart settings, the adapter's defaults, given explicitly to both the adapter and the baseline. */
export const PART_SIZE = 8 * MiB;
export const QUEUE_SIZE = 4;
export const BUCKET = "media";
const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface Target {
  label: string;
  write(key: string, size: number): Promise<void>;
  read(key: string): Promise<Readable>;
  remove(key: string): Promise<void>;
}

export function adapterTarget(label: string, storage: Storage): Target {
  return {
    label,
    async write(key, size) {
      const stored = await storage.save(key, source(size), { contentType: "application/octet-stream" });
      if (stored !== key) throw new Error(`${label} stored ${key} as ${stored}: something was left from an earlier run`);
    },
    read: (key) => storage.open(key),
    remove: (key) => storage.delete(key),
  };
}

export function rawFsTarget(dir: string): Target {
  return {
    label: "filesystem raw",
    async write(key, size) {
      const file = path.join(dir, key);
      await pipeline(source(size), fs.createWriteStream(file, { flags: "wx" }));
      // FileSystemStorage fsyncs what it writes; so does the baseline.
      await fsyncFile(file);
    },
    read: async (key) => fs.createReadStream(path.join(dir, key)),
    remove: (key) => fsp.rm(path.join(dir, key), { force: true }),
  };
}

export function s3Client(endpoint: string): S3Client {
  // The settings S3Storage gives its own client (src/storage/s3.ts clientConfig), timeouts aside.
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
  });
}

export function rawS3Target(client: S3Client, prefix: string): Target {
  return {
    label: "S3 raw",
    async write(key, size) {
      const upload = new Upload({
        client,
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
        params: { Bucket: BUCKET, Key: prefix + key, Body: source(size), ContentType: "application/octet-stream" },
      });
      await upload.done();
    },
    async read(key) {
      const result = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: prefix + key }));
      return result.Body as Readable;
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: prefix + key }));
    },
  };
}

export function fsAdapter(dir: string): FileSystemStorage {
  return new FileSystemStorage({ location: dir, baseUrl: "/media/" });
}

export function s3Adapter(endpoint: string, location: string): S3Storage {
  return new S3Storage({
    bucket: BUCKET,
    location,
    endpoint,
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
  });
}

export interface Measurement {
  writeSeconds: number;
  readSeconds: number;
  writeMiBs: number;
  readMiBs: number;
}

let keyCounter = 0;

/** Writes `size` bytes, reads them back and checks them, removes them; write and read are timed apart. */
export async function writeReadCheck(target: Target, size: number): Promise<Measurement> {
  const key = `bench-${process.pid}-${keyCounter++}.bin`;
  const expected = expectedHash(size);
  try {
    const t0 = performance.now();
    await target.write(key, size);
    const t1 = performance.now();
    const got = await consume(await target.read(key));
    const t2 = performance.now();
    if (got.bytes !== size || got.sha256 !== expected) {
      throw new Error(
        `${target.label}: READ-BACK MISMATCH for ${key}: got ${got.bytes} bytes sha256 ${got.sha256}, wrote ${size} bytes sha256 ${expected}`,
      );
    }
    const writeSeconds = (t1 - t0) / 1000;
    const readSeconds = (t2 - t1) / 1000;
    return { writeSeconds, readSeconds, writeMiBs: size / MiB / writeSeconds, readMiBs: size / MiB / readSeconds };
  } finally {
    await target.remove(key).catch((err: Error) => console.error(`  (could not remove ${key} from ${target.label}: ${err.message})`));
  }
}
