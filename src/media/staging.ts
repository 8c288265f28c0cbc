import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileTypeFromBuffer } from "file-type";
import type { MediaKind } from "../db/generated/enums.js";
import type { Storage } from "../storage/contract.js";
import type { StorageRegistry } from "../storage/registry.js";
import { analyzeAudioVideo, analyzeImage, type MediaInfo, type ProbeOptions } from "../transcode/analyze.js";
import { AnalysisError } from "../transcode/errors.js";
import { StreamChecksum } from "../streams/checksum.js";
import { limitSize } from "../streams/limit.js";
import { peek } from "../streams/peek.js";
import { MediaError } from "../errors.js";
import { KIND_FORMATS, type KindRegistry, type KindSpec, type MediaFormat } from "./kinds.js";
import type { ScratchSpace } from "./scratch.js";

/** Enough of the head of a file for every format the kinds accept to be recognised. */
const SNIFF_BYTES = 64 * 1024;
const MAX_TITLE_LENGTH = 200;

/** A client's file, as the multipart request delivers it. */
export interface IncomingFile {
  filename: string;
  createReadStream(): Readable;
}

export interface StagingOptions {
  kinds: KindRegistry;
  storages: StorageRegistry;
  image: { maxPixels: number; log?: (message: string) => void };
  ffprobe: ProbeOptions;
  /** Where local copies of originals on storages without paths are made while they are analysed. */
  scratch?: ScratchSpace;
}

/** A file whose bytes are stored under a temporary name, checked and analysed, not yet recorded. */
export interface StagedFile {
  shelfId: string;
  /** The storage alias that holds the bytes (the kind's route for originals). */
  storageAlias: string;
  fileId: string;
  kind: MediaKind;
  title: string;
  format: MediaFormat;
  stagedName: string;
  finalName: string;
  size: number;
  checksum: string;
  info: MediaInfo;
}

/**
 * Streams one upload into storage under a temporary name: the type is sniffed from the first
 * bytes before anything is written, the kind's size limit is enforced while streaming, and the
 * bytes are hashed on the way. Any failure removes what was written.
 */
export async function stageUpload(
  file: IncomingFile,
  request: { ownerId: string; kind?: MediaKind; title?: string | null },
  options: StagingOptions,
): Promise<StagedFile> {
  let source: Readable;
  try {
    source = file.createReadStream();
  } catch (err) {
    throw uploadReadError(err);
  }
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // No `return`: a refused file is drained below (discardRest), never destroyed.
  const chunks: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({ next: () => iterator.next().catch((err: unknown) => Promise.reject(uploadReadError(err))) }),
  };
  let stagedName: string | undefined;
  let storage: Storage | undefined;
  try {
    const { head, all } = await peek(chunks, SNIFF_BYTES);
    if (head.length === 0) throw new MediaError("BAD_USER_INPUT", "The file is empty");
    const { spec, format } = await detectKind(head, request.kind, options.kinds);

    const shelfId = randomUUID();
    const fileId = randomUUID();
    const limit = spec.maxFileSize;
    const tooLarge = () => new MediaError("PAYLOAD_TOO_LARGE", `The file is larger than the ${limit} bytes allowed for ${spec.kind}`);
    // The parser cuts a file at its own limit and only says so once the file has ended.
    async function* untruncated(): AsyncGenerator<Buffer> {
      yield* all;
      if ((source as Readable & { truncated?: boolean }).truncated) throw tooLarge();
    }
    const measured = new StreamChecksum();
    const content = Readable.from(measured.pass(limitSize(limit, tooLarge)(untruncated())));
    const storageAlias = options.storages.aliasFor(spec.kind, "original");
    storage = options.storages.get(storageAlias);
    const tempName = `.incoming/${fileId}.${format.extension}`;
    stagedName = await storage.save(tempName, content, { contentType: format.mimeType });

    const info = await analyze(storage, stagedName, spec, format, options);
    checkRules(spec, info);
    return {
      shelfId,
      storageAlias,
      fileId,
      kind: spec.kind,
      title: titleFrom(request.title, file.filename),
      format,
      stagedName,
      finalName: options.storages.uploadName(storageAlias, spec.kind, {
        owner: request.ownerId,
        shelf: shelfId,
        name: stemOf(file.filename),
        ext: format.extension,
      }),
      size: measured.size,
      checksum: measured.checksum(),
      info,
    };
  } catch (err) {
    discardRest(iterator);
    if (stagedName) await storage?.delete(stagedName).catch(() => {});
    throw err;
  }
}

/**
 * Reads the rest of a refused file and drops it: the parts behind it in the request only arrive
 * once this one has been read (the parser's own limit caps how much that can be).
 */
function discardRest(iterator: AsyncIterator<Buffer>): void {
  void (async () => {
    try {
      while (!(await iterator.next()).done);
    } catch {
      // The body ended badly; nothing more to read.
    }
  })();
}

/**
 * Errors of the multipart body itself (malformed parts, a client that went away, the parser's
 * own size limit) are the client's, not the service's.
 */
export function uploadReadError(err: unknown): unknown {
  if (err instanceof MediaError) return err;
  const status = (err as { status?: number }).status;
  const message = (err as Error)?.message ?? String(err);
  if (status === 413) return new MediaError("PAYLOAD_TOO_LARGE", message);
  return new MediaError("BAD_USER_INPUT", `The upload could not be read: ${message}`);
}

async function detectKind(
  head: Buffer,
  requested: MediaKind | undefined,
  kinds: KindRegistry,
): Promise<{ spec: KindSpec; format: MediaFormat }> {
  const detected = await fileTypeFromBuffer(head);
  if (requested) {
    const spec = kinds.get(requested);
    const format = detected && spec.formats.find((fmt) => fmt.mimeType === detected.mime);
    if (!format) {
      const accepted = spec.formats.map((fmt) => fmt.extension).join(", ");
      throw new MediaError(
        "UNSUPPORTED_MEDIA_TYPE",
        `${describe(detected?.mime)} is not accepted for ${requested}; accepted formats: ${accepted}`,
      );
    }
    return { spec, format };
  }
  const match = detected && kinds.forMimeType(detected.mime);
  if (!match) {
    // A format its kind knows but the configuration left out: say which formats that kind takes.
    const kind = detected && (Object.values(KIND_FORMATS).find((k) => k.formats.some((f) => f.mimeType === detected.mime))?.kind);
    if (kind) {
      const accepted = kinds.get(kind).formats.map((fmt) => fmt.extension).join(", ");
      throw new MediaError("UNSUPPORTED_MEDIA_TYPE", `${describe(detected.mime)} is not accepted for ${kind}; accepted formats: ${accepted}`);
    }
    throw new MediaError("UNSUPPORTED_MEDIA_TYPE", `${describe(detected?.mime)} is not accepted by any media kind`);
  }
  return match;
}

function describe(mime: string | undefined): string {
  return mime ? `The file's content (${mime})` : "The file's content is of no recognised media format; it";
}

async function analyze(
  storage: Storage,
  name: string,
  spec: KindSpec,
  format: MediaFormat,
  options: StagingOptions,
): Promise<MediaInfo> {
  if (spec.analyzer === "none") return {};
  try {
    return await withLocalFile(storage, name, (file) =>
      spec.analyzer === "image"
        ? analyzeImage(file, { maxPixels: Math.min(spec.maxPixels ?? Infinity, options.image.maxPixels), log: options.image.log })
        : analyzeAudioVideo(file, format.demuxer ?? "", options.ffprobe),
      options.scratch && ((prefix) => options.scratch!.make(prefix)),
    );
  } catch (err) {
    if (err instanceof AnalysisError && err.badInput) throw new MediaError("BAD_USER_INPUT", err.message);
    throw err;
  }
}

/** A file's measurements as its row keeps them (null where unknown). */
export function infoColumns(info: MediaInfo) {
  return {
    width: info.width ?? null,
    height: info.height ?? null,
    durationMs: info.durationMs ?? null,
    videoCodec: info.videoCodec ?? null,
    audioCodec: info.audioCodec ?? null,
    bitrate: info.bitrate ?? null,
    frameRate: info.frameRate ?? null,
  };
}

/** Refuses a file whose measurements break its kind's rules, naming the rule. */
function checkRules(spec: KindSpec, info: MediaInfo): void {
  const refuse = (what: string) => {
    throw new MediaError("BAD_USER_INPUT", `${what} for ${spec.kind}`);
  };
  const { width, height, durationMs } = info;
  if (width !== undefined && spec.minWidth !== undefined && width < spec.minWidth) refuse(`The width ${width} is below the minimum of ${spec.minWidth}`);
  if (height !== undefined && spec.minHeight !== undefined && height < spec.minHeight) refuse(`The height ${height} is below the minimum of ${spec.minHeight}`);
  if (width !== undefined && spec.maxWidth !== undefined && width > spec.maxWidth) refuse(`The width ${width} is above the maximum of ${spec.maxWidth}`);
  if (height !== undefined && spec.maxHeight !== undefined && height > spec.maxHeight) refuse(`The height ${height} is above the maximum of ${spec.maxHeight}`);
  if (durationMs !== undefined && spec.maxDurationMs !== undefined && durationMs > spec.maxDurationMs) {
    refuse(`The duration of ${durationMs} ms is above the maximum of ${spec.maxDurationMs} ms`);
  }
}

/**
 * Runs `fn` on a local path of `name`: the backend's own when it has one, else a temporary copy
 * in a directory `makeDir` makes (a scratch space's, or the OS temp dir's).
 */
export async function withLocalFile<T>(
  storage: Storage,
  name: string,
  fn: (file: string) => Promise<T>,
  makeDir: (prefix: string) => Promise<string> = (prefix) => fs.mkdtemp(path.join(os.tmpdir(), prefix)),
): Promise<T> {
  const local = storage.path(name);
  if (local) return fn(local);
  const dir = await makeDir("media-");
  try {
    const copy = path.join(dir, path.posix.basename(name));
    await pipeline(await storage.open(name), createWriteStream(copy));
    return await fn(copy);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The client's file name is display data only: it becomes a title, never a path. */
function titleFrom(title: string | null | undefined, filename: string): string {
  if (title != null) return cleanTitle(title);
  const stem = stemOf(filename);
  try {
    return cleanTitle(stem.slice(0, MAX_TITLE_LENGTH));
  } catch {
    return "Untitled";
  }
}

/** A title without control or format characters, trimmed; an empty one is refused. */
export function cleanTitle(raw: string): string {
  const clean = raw
    .normalize("NFC")
    .replace(/[\p{Cc}\p{Cf}]/gu, "")
    .trim();
  if (clean === "") throw new MediaError("BAD_USER_INPUT", "The title must not be empty");
  if (clean.length > MAX_TITLE_LENGTH) {
    throw new MediaError("BAD_USER_INPUT", `The title is longer than ${MAX_TITLE_LENGTH} characters`);
  }
  return clean;
}

/** The client's file name without directories or extension: display data for titles and routes. */
function stemOf(filename: string): string {
  return path.posix.basename(filename.replace(/\\/g, "/")).replace(/\.[^.]*$/, "");
}
