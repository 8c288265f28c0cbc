import fs from "node:fs/promises";
import path from "node:path";
import type S3rver from "s3rver";

type Context = {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
};
type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;

/**
 * s3rver (3.7) makes, fills and completes multipart uploads but answers ListMultipartUploads
 * with NotImplemented, and ListParts and AbortMultipartUpload with MethodNotAllowed. These three
 * are added here over its own store (one directory per unfinished upload: its key, its parts), with
 * the request and response shapes of the S3 API, so the SDK speaks to them as to any store.
 * Call before the server runs: Koa composes its middleware then.
 */
export function addIncompleteUploadOperations(server: S3rver, directory: string): void {
  const uploadsOf = (bucket: string) => path.join(directory, bucket, "._S3rver_uploads");
  const operations: Middleware = async (ctx, next) => {
    const [bucket, ...keyParts] = ctx.path.split("/").slice(1).map(decodeURIComponent);
    const key = keyParts.join("/");
    if (bucket && key === "" && ctx.method === "GET" && "uploads" in ctx.query) {
      ctx.body = await listUploads(bucket, uploadsOf(bucket), String(ctx.query.prefix ?? ""));
      return;
    }
    const uploadId = ctx.query.uploadId;
    if (bucket && key !== "" && (ctx.method === "DELETE" || ctx.method === "GET") && typeof uploadId === "string") {
      const dir = path.join(uploadsOf(bucket), path.basename(uploadId));
      const stored = await fs.readFile(path.join(dir, "key"), "utf8").catch(() => undefined);
      if (stored !== key) {
        ctx.status = 404;
        ctx.body = { Error: { Code: "NoSuchUpload", Message: "The specified upload does not exist.", UploadId: uploadId } };
      } else if (ctx.method === "GET") {
        ctx.body = await listParts(bucket, key, uploadId, dir);
      } else {
        await fs.rm(dir, { recursive: true, force: true });
        ctx.status = 204;
      }
      return;
    }
    await next();
  };
  // Before the router (the last middleware), after the ones that encode XML and resolve buckets.
  const stack = (server as unknown as { middleware: Middleware[] }).middleware;
  stack.splice(stack.length - 1, 0, operations);
}

/** Every unfinished upload under `prefix`, in one page (tests hold few). */
async function listUploads(bucket: string, uploadsDir: string, prefix: string) {
  const ids = await fs.readdir(uploadsDir).catch(() => [] as string[]);
  const uploads = [];
  for (const id of ids) {
    const dir = path.join(uploadsDir, id);
    const key = await fs.readFile(path.join(dir, "key"), "utf8").catch(() => undefined);
    if (key === undefined || !key.startsWith(prefix)) continue;
    const initiated = (await fs.stat(path.join(dir, "key"))).mtime;
    uploads.push({ Key: key, UploadId: id, Initiated: initiated.toISOString(), StorageClass: "STANDARD" });
  }
  uploads.sort((a, b) => (a.Key === b.Key ? a.UploadId.localeCompare(b.UploadId) : a.Key.localeCompare(b.Key)));
  return {
    ListMultipartUploadsResult: {
      "@": { xmlns: "http://s3.amazonaws.com/doc/2006-03-01/" },
      Bucket: bucket,
      Prefix: prefix,
      MaxUploads: 1000,
      IsTruncated: false,
      Upload: uploads,
    },
  };
}

/** The parts written so far (files named by part number), in one page. */
async function listParts(bucket: string, key: string, uploadId: string, dir: string) {
  const parts = [];
  for (const entry of await fs.readdir(dir)) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.stat(path.join(dir, entry));
    const md5 = await fs.readFile(path.join(dir, `${entry}.md5`), "utf8").catch(() => "");
    parts.push({ PartNumber: Number(entry), LastModified: stat.mtime.toISOString(), ETag: `"${md5}"`, Size: stat.size });
  }
  parts.sort((a, b) => a.PartNumber - b.PartNumber);
  return {
    ListPartsResult: {
      "@": { xmlns: "http://s3.amazonaws.com/doc/2006-03-01/" },
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      MaxParts: 1000,
      IsTruncated: false,
      Part: parts,
    },
  };
}
