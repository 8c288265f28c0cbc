import fs from "node:fs";
import path from "node:path";
import { gql, REQUEST_TIMEOUT_MS } from "../harness/graphql.js";
import { sleep } from "../harness/settings.js";

/** What the benchmark asks the service over HTTP: uploads, versions, transforms and their bytes. */

const UPLOAD_SHELVES = "mutation BenchUpload($input: UploadShelvesInput!) { uploadShelves(input: $input) { id original { mimeType } } }";
const VERSION_QUERY =
  "query BenchVersion($id: ID!, $preset: String!) { shelf(id: $id) { version(preset: $preset) { id url status size width height durationMs error } } }";
const TRANSFORM_QUERY =
  "query BenchTransform($id: ID!, $input: ImageTransformInput!) { shelf(id: $id) { ... on ImageShelf { transform(input: $input) { id url status } } } }";

export interface Uploaded {
  id: string;
  mimeType: string;
}

/** One shelf per file, up to 20 files a request (uploadShelves, the multipart request spec). */
export async function uploadFiles(base: string, files: string[]): Promise<Uploaded[]> {
  const shelves: Uploaded[] = [];
  for (let i = 0; i < files.length; i += 20) {
    const batch = files.slice(i, i + 20);
    const form = new FormData();
    form.append("operations", JSON.stringify({ query: UPLOAD_SHELVES, variables: { input: { files: batch.map(() => null) } } }));
    form.append("map", JSON.stringify(Object.fromEntries(batch.map((_, j) => [String(j), [`variables.input.files.${j}`]]))));
    for (const [j, file] of batch.entries()) form.append(String(j), await fs.openAsBlob(file), path.basename(file));
    const res = await fetch(`${base}/graphql`, { method: "POST", headers: { "apollo-require-preflight": "true" }, body: form });
    const text = await res.text();
    const parsed = JSON.parse(text) as { data?: { uploadShelves: Array<{ id: string; original: { mimeType: string } }> }; errors?: unknown };
    if (res.status !== 200 || parsed.errors || !parsed.data) throw new Error(`upload refused (HTTP ${res.status}): ${text.slice(0, 500)}`);
    shelves.push(...parsed.data.uploadShelves.map((s) => ({ id: s.id, mimeType: s.original.mimeType })));
  }
  return shelves;
}

export interface VersionRow {
  id: string;
  url: string;
  status: string;
  size: number | null;
  width: number | null;
  height: number | null;
  durationMs: number | null;
  error: string | null;
}

export async function askVersion(base: string, id: string, preset: string): Promise<VersionRow> {
  const data = await gql<{ shelf: { version: VersionRow } | null }>(base, VERSION_QUERY, { id, preset });
  if (!data.shelf) throw new Error(`shelf ${id} not found`);
  return data.shelf.version;
}

export async function askTransform(base: string, id: string, input: Record<string, unknown>): Promise<{ id: string; url: string }> {
  const data = await gql<{ shelf: { transform: { id: string; url: string } } | null }>(base, TRANSFORM_QUERY, { id, input });
  if (!data.shelf) throw new Error(`shelf ${id} not found`);
  return data.shelf.transform;
}

export interface Fetched {
  status: number;
  body: Buffer;
  /** 202 answers (the version was not ready within the route's wait) before the final one. */
  waits: number;
}

/** GETs a media url; a 202 (still being made) is asked again after its Retry-After. */
export async function fetchMedia(base: string, url: string): Promise<Fetched> {
  const deadline = Date.now() + REQUEST_TIMEOUT_MS;
  for (let waits = 0; ; waits++) {
    const res = await fetch(new URL(url, base), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 202) return { status: res.status, body, waits };
    if (Date.now() > deadline) throw new Error(`${url} still answered 202 after ${REQUEST_TIMEOUT_MS / 1000} s`);
    await sleep(Number(res.headers.get("retry-after") ?? "1") * 1000);
  }
}
