import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Readable } from "node:stream";
import { StorageBase } from "./base.js";
import { StorageError, unavailable, type ByteRange, type SaveOptions, type UrlOptions } from "./contract.js";
import { sliceBytes } from "../streams/slice.js";
import { assertSafeName } from "./naming.js";
import { sweepIncompleteUploads } from "./s3-incomplete.js";
import { writeError } from "./streams.js";

/** Object parameters applied to every upload (django-storages' AWS_S3_OBJECT_PARAMETERS). */
export type ObjectParameters = Partial<
  Pick<
    PutObjectCommandInput,
    "CacheControl" | "ContentDisposition" | "ContentEncoding" | "ContentLanguage" | "ServerSideEncryption" | "SSEKMSKeyId" | "StorageClass" | "ACL" | "Metadata" | "Tagging"
  >
>;

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket. */
  location?: string;
  region?: string;
  /** For S3-compatible stores (MinIO, R2, Ceph): their endpoint URL. */
  endpoint?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible stores need. */
  forcePathStyle?: boolean;
  /** Static credentials; without them the SDK's default chain (environment, profile, instance role) applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  objectParameters?: ObjectParameters;
  /** Presigned GET URLs (default true); false gives plain object URLs for public buckets. */
  querystringAuth?: boolean;
  /** Lifetime of presigned URLs, in seconds (default 3600). */
  querystringExpire?: number;
  /** Public URLs on this host (a CDN in front of the bucket) instead of the endpoint's. */
  customDomain?: string;
  /** Replace an existing object on save (default false: django-storages' true default has cost users data). */
  fileOverwrite?: boolean;
  /** Multipart part size in bytes (at least 5 MiB) and how many parts are in flight at once. */
  partSize?: number;
  queueSize?: number;
  /** An S3Client to use instead of building one (its settings then win over the ones above). */
  client?: S3Client;
}

const MiB = 1024 * 1024;

/**
 * Objects in any S3-compatible store. Uploads stream as multipart uploads with bounded part
 * concurrency (memory levels off at a few times partSize × queueSize, whatever the object's
 * size: the SDK copies each part) and are aborted on failure, so no
 * incomplete upload is left behind. Names are claimed with conditional writes (If-None-Match)
 * where the store supports them, and within this process in every case.
 */
export class S3Storage extends StorageBase {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly claimed = new Set<string>();

  constructor(private readonly options: S3StorageOptions) {
    super(options.fileOverwrite ?? false);
    this.bucket = options.bucket;
    this.prefix = options.location ? `${options.location.replace(/^\/+|\/+$/g, "")}/` : "";
    this.client = options.client ?? new S3Client(clientConfig(options));
  }

  private key(name: string): string {
    return this.prefix + assertSafeName(name);
  }

  async save(name: string, content: Readable, options: SaveOptions = {}): Promise<string> {
    let contentError: unknown;
    content.once("error", (err) => (contentError = err));
    const stored = await this.claim(assertSafeName(name), options.maxLength);
    try {
      const upload = new Upload({
        client: this.client,
        queueSize: this.options.queueSize ?? 4,
        partSize: Math.max(this.options.partSize ?? 8 * MiB, 5 * MiB),
        leavePartsOnError: false,
        params: {
          ...this.options.objectParameters,
          Bucket: this.bucket,
          Key: this.key(stored),
          Body: content,
          ContentType: options.contentType,
          ...(this.allowOverwrite ? {} : { IfNoneMatch: "*" }),
        },
      });
      await upload.done();
      return stored;
    } catch (err) {
      if (statusOf(err) === 412) throw new StorageError("EXISTS", `${stored} was taken by another writer`);
      throw writeError(err, contentError);
    } finally {
      this.claimed.delete(stored);
    }
  }

  /** Picks a free name and holds it for this process until the upload ends. */
  private async claim(name: string, maxLength?: number): Promise<string> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const candidate = await this.getAvailableName(attempt === 0 ? name : this.alternativeFor(name, maxLength), maxLength);
      if (this.allowOverwrite || !this.claimed.has(candidate)) {
        this.claimed.add(candidate);
        return candidate;
      }
    }
    throw new StorageError("NAME_UNAVAILABLE", `No free name found for ${JSON.stringify(name)}`);
  }

  /** Aborts the multipart uploads a crash left under this storage's prefix (see sweepIncompleteUploads). */
  sweepIncomplete(before: Date, options?: { dryRun?: boolean }): Promise<number> {
    return sweepIncompleteUploads({ client: this.client, bucket: this.bucket, prefix: this.prefix }, before, options);
  }

  async open(name: string, range: ByteRange = {}): Promise<Readable> {
    const header = range.start !== undefined || range.end !== undefined ? `bytes=${range.start ?? 0}-${range.end ?? ""}` : undefined;
    const result = await this.call(name, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(name), Range: header })));
    const body = result.Body as Readable;
    if (!header) return body;
    // Some S3-compatible servers answer a range with more than was asked (the whole object, or
    // an open-ended range for "bytes=0-0"); cut what they sent down to what was asked.
    const [, sentStart, sentEnd] = /^bytes (\d+)-(\d+)\//.exec(result.ContentRange ?? "") ?? [];
    const from = sentStart === undefined ? 0 : Number(sentStart);
    const start = range.start ?? 0;
    if (from === start && (range.end === undefined || Number(sentEnd) === range.end)) return body;
    return Readable.from(sliceBytes(start - from, range.end === undefined ? undefined : range.end - from)(body));
  }

  async move(from: string, to: string): Promise<void> {
    if (await this.exists(to)) throw new StorageError("EXISTS", `${to} already exists`);
    await this.call(from, () =>
      this.client.send(
        new CopyObjectCommand({
          ...this.options.objectParameters,
          Bucket: this.bucket,
          Key: this.key(to),
          CopySource: `${this.bucket}/${this.key(from).split("/").map(encodeURIComponent).join("/")}`,
        }),
      ),
    );
    await this.delete(from);
  }

  async delete(name: string): Promise<void> {
    await this.call(name, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(name) })));
  }

  async exists(name: string): Promise<boolean> {
    try {
      await this.head(name);
      return true;
    } catch (err) {
      if (err instanceof StorageError && err.code === "NOT_FOUND") return false;
      throw err;
    }
  }

  async size(name: string): Promise<number> {
    return (await this.head(name)).ContentLength ?? 0;
  }

  async getModifiedTime(name: string): Promise<Date> {
    const modified = (await this.head(name)).LastModified;
    if (!modified) throw new StorageError("NOT_SUPPORTED", "The store did not report a modification time");
    return modified;
  }

  async listdir(dir: string): Promise<{ directories: string[]; files: string[] }> {
    const prefix = this.prefix + (dir === "" ? "" : `${assertSafeName(dir)}/`);
    const directories: string[] = [];
    const files: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(dir, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token })),
      );
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) directories.push(p.Prefix.slice(prefix.length, -1));
      for (const o of page.Contents ?? []) if (o.Key && o.Key !== prefix) files.push(o.Key.slice(prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    if (dir !== "" && directories.length === 0 && files.length === 0) throw new StorageError("NOT_FOUND", `${dir} does not exist`);
    return { directories, files };
  }

  async url(name: string, options: UrlOptions = {}): Promise<string> {
    const key = this.key(name);
    const encoded = key.split("/").map(encodeURIComponent).join("/");
    // A custom domain's links are public and never expire: an expiring link is asked for by presigning.
    if (this.options.customDomain && options.expiresIn === undefined) return `https://${this.options.customDomain}/${encoded}`;
    if (this.options.querystringAuth === false && options.expiresIn === undefined) {
      const endpoint = await this.client.config.endpoint?.();
      const base = endpoint ? `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ""}` : `https://${this.bucket}.s3.amazonaws.com`;
      return this.options.forcePathStyle || endpoint ? `${base}/${this.bucket}/${encoded}` : `${base}/${encoded}`;
    }
    const filename = name.split("/").pop();
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ...(options.download ? { ResponseContentDisposition: `attachment; filename="${filename}"` } : {}),
      }),
      { expiresIn: options.expiresIn ?? this.options.querystringExpire ?? 3600 },
    );
  }

  private head(name: string) {
    return this.call(name, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(name) })));
  }

  /** Runs one request, mapping a missing object to NOT_FOUND and every other failure to STORAGE_UNAVAILABLE. */
  private async call<T>(name: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      const status = statusOf(err);
      const code = (err as { name?: string }).name;
      if (status === 404 || code === "NoSuchKey" || code === "NotFound") throw new StorageError("NOT_FOUND", `${name} does not exist`);
      throw unavailable(err);
    }
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function clientConfig(options: S3StorageOptions): S3ClientConfig {
  return {
    region: options.region ?? "us-east-1",
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: options.credentials,
    // Many S3-compatible stores reject the checksums recent SDKs add by default.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 60_000 }),
  };
}
