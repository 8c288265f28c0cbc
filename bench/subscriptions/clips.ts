import fsp from "node:fs/promises";
import path from "node:path";
import { runProgram } from "../harness/children.js";
import { REQUEST_TIMEOUT_MS } from "../harness/graphql.js";

/** The clips the worker transcodes: made with ffmpeg's lavfi sources, uploaded through /graphql. */

/** A 640x480 25 fps H.264 + AAC clip of `seconds` (testsrc + a sine whose pitch depends on `seed`). */
export async function makeClip(ffmpegPath: string, file: string, seconds: number, seed: number): Promise<void> {
  const { code, stderr } = await runProgram(ffmpegPath, [
    "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", `testsrc=duration=${seconds}:size=640x480:rate=25`,
    "-f", "lavfi", "-i", `sine=frequency=${220 + seed * 10}:duration=${seconds}`,
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", file,
  ]);
  if (code !== 0) throw new Error(`ffmpeg could not make ${file}: ${stderr.trim().split("\n").pop()}`);
}

/** Uploads `file` as a new shelf (GraphQL multipart request); its id. */
export async function uploadClip(base: string, file: string): Promise<string> {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query: "mutation ($file: Upload!) { uploadShelf(input: { file: $file }) { id } }", variables: { file: null } }));
  form.append("map", JSON.stringify({ 0: ["variables.file"] }));
  form.append("0", new Blob([await fsp.readFile(file)]), path.basename(file));
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "apollo-require-preflight": "true" },
    body: form,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await res.json()) as { data?: { uploadShelf: { id: string } }; errors?: unknown };
  if (res.status !== 200 || !body.data) throw new Error(`upload of ${path.basename(file)} answered ${res.status}: ${JSON.stringify(body.errors)}`);
  return body.data.uploadShelf.id;
}
