import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type MultipartUpload,
  type S3Client,
} from "@aws-sdk/client-s3";
import { StorageError, unavailable } from "./contract.js";

export interface IncompleteUploadsTarget {
  client: S3Client;
  bucket: string;
  /** Only uploads under this key prefix are this storage's ("" for the whole bucket). */
  prefix: string;
}

/**
 * Aborts the multipart uploads under `prefix` that a crash cut short: begun before `before` and
 * with no part written since. A save still streaming a large file keeps writing parts, so it is
 * left alone however long ago it began. Returns how many were (or, on a dry run, would be) aborted.
 * @throws StorageError NOT_SUPPORTED when the store cannot list unfinished uploads
 */
export async function sweepIncompleteUploads(target: IncompleteUploadsTarget, before: Date, options: { dryRun?: boolean } = {}): Promise<number> {
  const { client, bucket, prefix } = target;
  let count = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await request(() =>
      client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker })),
    );
    for (const upload of page.Uploads ?? []) {
      if (!upload.Key?.startsWith(prefix) || !upload.UploadId || !(await idleSince(target, upload, before))) continue;
      count++;
      if (!options.dryRun) await abort(target, upload.Key, upload.UploadId);
    }
    const truncated = page.IsTruncated && (page.NextKeyMarker !== keyMarker || page.NextUploadIdMarker !== uploadIdMarker);
    keyMarker = truncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = truncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker !== undefined);
  return count;
}

/** True when the upload began before `before` and its newest part (if the store lists parts) is older too. */
async function idleSince({ client, bucket }: IncompleteUploadsTarget, upload: MultipartUpload, before: Date): Promise<boolean> {
  if (!upload.Initiated || upload.Initiated >= before) return false;
  let marker: string | undefined;
  try {
    do {
      const page = await request(() =>
        client.send(new ListPartsCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId, PartNumberMarker: marker })),
      );
      if ((page.Parts ?? []).some((part) => part.LastModified && part.LastModified >= before)) return false;
      marker = page.IsTruncated && page.NextPartNumberMarker !== marker ? page.NextPartNumberMarker : undefined;
    } while (marker !== undefined);
  } catch (err) {
    // Gone meanwhile (completed or aborted by its writer), or parts cannot be listed: its age alone decides.
    if (err instanceof StorageError && err.code === "NOT_FOUND") return false;
    if (!(err instanceof StorageError && err.code === "NOT_SUPPORTED")) throw err;
  }
  return true;
}

async function abort({ client, bucket }: IncompleteUploadsTarget, key: string, uploadId: string): Promise<void> {
  try {
    await request(() => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })));
  } catch (err) {
    // Finished or aborted meanwhile: nothing is left to remove.
    if (!(err instanceof StorageError && err.code === "NOT_FOUND")) throw err;
  }
}

/** Maps a store without these operations to NOT_SUPPORTED, an unknown upload to NOT_FOUND. */
async function request<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (err as { name?: string }).name;
    if (status === 501 || status === 405 || name === "NotImplemented" || name === "MethodNotAllowed") {
      throw new StorageError("NOT_SUPPORTED", "The store cannot list or abort unfinished multipart uploads", { cause: err });
    }
    if (status === 404 || name === "NoSuchUpload") throw new StorageError("NOT_FOUND", "The upload is gone", { cause: err });
    throw unavailable(err);
  }
}
