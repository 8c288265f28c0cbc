import { pipeline } from "node:stream/promises";
import { Router, type Request, type Response } from "express";
import rangeParser from "range-parser";
import type { ShelfService } from "../media/shelves.js";
import type { VersionService } from "../media/versions/index.js";
import { StorageError } from "../storage/contract.js";
import { assertSafeName } from "../storage/naming.js";
import type { StorageRegistry } from "../storage/registry.js";

/** Types a browser may render from our origin; everything else downloads (no HTML, SVG or XML inline). */
const INLINE_TYPES = [/^image\/(jpeg|png|gif|webp|avif|heic|heif|tiff)$/, /^audio\//, /^video\//, /^application\/pdf$/];

function isInlineType(mimeType: string): boolean {
  return INLINE_TYPES.some((pattern) => pattern.test(mimeType));
}

interface MediaDeps {
  shelves: ShelfService;
  versions: VersionService;
  versionWaitMs: number;
  storages: StorageRegistry;
  log: (m: string) => void;
}

/**
 * The media route of every storage alias whose files the service serves (or redirects to), each
 * under its own URL prefix, longest first so nested prefixes find their own alias.
 */
export function mediaRoutes(deps: MediaDeps): Array<[path: string, router: Router]> {
  return deps.storages
    .aliases()
    .map((alias) => ({ alias, serving: deps.storages.serving(alias) }))
    .filter(({ serving }) => serving.mode !== "direct")
    .map(({ alias, serving }) => ({ alias, path: new URL(serving.baseUrl, "http://localhost").pathname }))
    .sort((a, b) => b.path.length - a.path.length)
    .map(({ alias, path }) => [path, mediaRouter({ ...deps, alias })]);
}

/**
 * Streams stored files by name with the headers a media player or browser needs: the stored
 * type, length, validators, byte ranges, and the headers that keep a hostile file inert.
 */
function mediaRouter(deps: MediaDeps & { alias: string }): Router {
  const router = Router();
  router.get("/*name", (req, res, next) => {
    serve(req, res, deps).catch(next);
  });
  return router;
}

function isSafeName(name: string): boolean {
  try {
    assertSafeName(name);
    return true;
  } catch {
    return false;
  }
}

/** RFC 9110 conditional GET: If-None-Match (weak comparison) wins over If-Modified-Since. */
function notModified(req: Request, etag: string, modified: Date): boolean {
  const ifNoneMatch = req.headers["if-none-match"];
  if (ifNoneMatch) {
    return ifNoneMatch.trim() === "*" || ifNoneMatch.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
  }
  const since = Date.parse(req.headers["if-modified-since"] ?? "");
  return !Number.isNaN(since) && Math.floor(modified.getTime() / 1000) <= Math.floor(since / 1000);
}

/**
 * RFC 9110 14.1.2: a suffix range longer than the representation selects all of it; the parser
 * counts such a range as unsatisfiable, so it is handed the whole range instead. A suffix of
 * zero bytes stays unsatisfiable.
 */
function clampSuffixRanges(header: string, size: number): string {
  return header.replace(/(^|[=,])(\s*)-(\d+)(?=\s*(,|$))/g, (spec, lead: string, space: string, length: string) =>
    Number(length) > size ? `${lead}${space}0-` : spec,
  );
}

async function serve(req: Request, res: Response, deps: MediaDeps & { alias: string }): Promise<void> {
  const segments = (req.params as { name?: string[] }).name ?? [];
  const name = segments.join("/");
  res.setHeader("X-Content-Type-Options", "nosniff");
  if (!isSafeName(name)) {
    res.status(404).type("text/plain").send("Not found");
    return;
  }
  const serving = deps.storages.serving(deps.alias);
  const signature = deps.storages.checkSignature(deps.alias, name, req.query as Record<string, unknown>);
  // A private alias needs a valid link; a tampered or expired link is refused anywhere.
  if (signature === "invalid" || signature === "expired" || (serving.signed && signature !== "valid")) {
    res.status(403).type("text/plain").send(signature === "expired" ? "This link has expired" : "Forbidden");
    return;
  }
  const download = req.query.download === "1";
  let file = await deps.shelves.fileByName(deps.alias, name);
  if (!file) {
    res.status(404).type("text/plain").send("Not found");
    return;
  }
  if (file.shelf.visibility === "PRIVATE" && signature !== "valid") {
    res.status(403).type("text/plain").send("This file is private: use the signed link from the API");
    return;
  }
  if (file.status !== "READY") {
    // A version being made: an image is worth a short wait; audio and video take longer, so the
    // client is told when to come back.
    const waitMs = file.shelf.kind === "IMAGE" ? deps.versionWaitMs : 0;
    const current = await deps.versions.awaitFile(file, waitMs);
    if (current?.status === "READY") {
      file = { ...file, ...current };
    } else if (current?.status === "FAILED") {
      // The reason (which may name internals) is for the owner, through the API's `error`.
      res.status(404).type("text/plain").send("This version could not be made");
      return;
    } else if (!current) {
      res.status(404).type("text/plain").send("Not found");
      return;
    } else {
      res.status(202).setHeader("Retry-After", file.shelf.kind === "IMAGE" ? "1" : "5");
      res.setHeader("Cache-Control", "no-store");
      res.json({ status: current.status, progress: current.progress });
      return;
    }
  }
  if (serving.mode === "redirect") {
    res.setHeader("Cache-Control", "private, no-store");
    res.redirect(302, await deps.storages.get(deps.alias).url(name, { expiresIn: 300, download }));
    return;
  }
  const size = Number(file.size);
  const etag = `"${file.checksum}"`;
  const lastModified = file.createdAt.toUTCString();
  const basename = name.split("/").pop() ?? "file";
  res.setHeader("ETag", etag);
  res.setHeader("Last-Modified", lastModified);
  res.setHeader("Accept-Ranges", "bytes");
  res.setHeader("Cache-Control", signature === "valid" ? "private, max-age=300" : "public, max-age=3600");
  res.setHeader("Content-Security-Policy", "default-src 'none'; sandbox");
  // attachment() also guesses a Content-Type from the name; the stored, sniffed type wins.
  res.attachment(basename);
  res.setHeader("Content-Type", file.mimeType);
  if (isInlineType(file.mimeType) && !download) {
    res.setHeader("Content-Disposition", String(res.getHeader("Content-Disposition")).replace(/^attachment/, "inline"));
  }

  if (notModified(req, etag, file.createdAt)) {
    res.status(304).end();
    return;
  }

  let start = 0;
  let end = size - 1;
  const rangeHeader = req.headers.range;
  const ifRange = req.headers["if-range"];
  const rangeApplies = rangeHeader && (!ifRange || ifRange === etag || ifRange === lastModified);
  if (rangeApplies && size > 0) {
    const ranges = rangeParser(size, clampSuffixRanges(rangeHeader, size), { combine: true });
    if (ranges === -1) {
      res.status(416).setHeader("Content-Range", `bytes */${size}`);
      res.end();
      return;
    }
    // One range is answered with 206; several (rare for media players) get the whole body.
    if (ranges !== -2 && ranges.type === "bytes" && ranges.length === 1) {
      start = ranges[0]!.start;
      end = ranges[0]!.end;
      res.status(206).setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
    }
  }
  res.setHeader("Content-Length", String(size === 0 ? 0 : end - start + 1));
  if (req.method === "HEAD" || size === 0) {
    res.end();
    return;
  }
  let stream;
  try {
    stream = await deps.storages.get(deps.alias).open(file.name, { start, end });
  } catch (err) {
    for (const header of ["Content-Disposition", "Content-Length", "ETag", "Last-Modified", "Cache-Control", "Content-Range"]) {
      res.removeHeader(header);
    }
    if (err instanceof StorageError && err.code === "NOT_FOUND") {
      deps.log(`media row ${file.id} has no stored bytes at ${file.storage}:${file.name}`);
      res.status(404).type("text/plain").send("Not found");
      return;
    }
    deps.log(`reading ${file.storage}:${file.name} failed: ${(err as Error).message}`);
    res.status(503).setHeader("Retry-After", "5");
    res.type("text/plain").send("Storage is unavailable");
    return;
  }
  await pipeline(stream, res).catch((err) => {
    // A client that goes away mid-download is normal for media; anything else is worth a line.
    if ((err as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") deps.log(`serving ${name} failed: ${(err as Error).message}`);
  });
}
