import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { ShelfVersionDocument } from "../generated/graphql.js";
import { gql } from "./graphql.js";
import type { TestServer } from "./server.js";

/** What the version tests share: waiting on versions, reading their bytes back, probing them. */
export const run = promisify(execFile);

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function version(server: TestServer, id: string, preset: string) {
  const res = await gql(server.url, ShelfVersionDocument, { id, preset });
  if (res.errors || !res.data?.shelf) throw new Error(JSON.stringify(res.errors));
  return res.data.shelf.version;
}

/** A version's job once its first attempt has failed and been put off for a retry. */
export async function retriedJob(server: TestServer, fileId: string) {
  return waitFor("the first attempt", async () => {
    const row = await server.app.db.prisma.job.findFirst({ where: { fileId } });
    return row?.lastError ? row : undefined;
  });
}

/** Asks for a version and waits until it is READY (or FAILED). */
export async function settledVersion(server: TestServer, id: string, preset: string) {
  return waitFor(`${preset} of ${id}`, async () => {
    const v = await version(server, id, preset);
    return v.status === "READY" || v.status === "FAILED" ? v : undefined;
  });
}

export async function fetchBytes(server: TestServer, url: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(new URL(url, server.url));
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

export interface Probe {
  format: { format_name: string; duration: string; tags?: Record<string, string> };
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; pix_fmt?: string }>;
}

export async function probe(bytes: Buffer): Promise<Probe> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "probe-"));
  try {
    const file = path.join(dir, "media");
    await fs.writeFile(file, bytes);
    const { stdout } = await run("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", file]);
    return JSON.parse(stdout) as Probe;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export async function jpegWithExif(): Promise<Buffer> {
  // 300x200 stored, orientation 6 (displayed turned a quarter: 200x300), with GPS tags.
  return sharp({ create: { width: 300, height: 200, channels: 3, background: "#c83" } })
    .composite([{ input: Buffer.from(`<svg width="300" height="200"><rect width="150" height="100" fill="#06a"/></svg>`) }])
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExifMerge({
      IFD0: { Make: "TestCam" },
      IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 24/1", GPSLongitudeRef: "E", GPSLongitude: "2/1 21/1 3/1" },
    })
    .toBuffer();
}
