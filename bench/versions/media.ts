import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { runProgram, startScript, waitForLine, type Child } from "../harness/children.js";
import type { SharpSpec } from "./bare-sharp.js";
import { READY_TIMEOUT_MS } from "./settings.js";

/** The benchmark's media, made on the spot, and the bare sharp process that works on it. */

/** A distinct, photo-sized JPEG: mild noise overlaid with a random gradient and circles. */
export async function makeJpeg(file: string, width: number, height: number, seed: number): Promise<void> {
  let s = (Math.imul(seed + 1, 2654435761) >>> 0) || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const colour = () => `#${[next(), next(), next()].map((v) => Math.floor(v * 256).toString(16).padStart(2, "0")).join("")}`;
  let shapes = "";
  for (let i = 0; i < 12; i++) {
    shapes += `<circle cx="${Math.floor(next() * width)}" cy="${Math.floor(next() * height)}" r="${Math.floor(next() * (height / 3) + height / 20)}" fill="${colour()}" fill-opacity="0.7"/>`;
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs>` +
    `<rect width="${width}" height="${height}" fill="url(#g)"/>${shapes}</svg>`;
  const noise = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = 104 + Math.floor(next() * 48);
  await sharp(noise, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), blend: "overlay" }])
    .jpeg({ quality: 88 })
    .toFile(file);
}

/** A 1080p30 H.264 + AAC clip of `durationSeconds` (lavfi testsrc2 + sine, libx264 veryfast, yuv420p). */
export async function makeVideo(ffmpegPath: string, file: string, durationSeconds: number): Promise<void> {
  const args = [
    "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", `testsrc2=duration=${durationSeconds}:size=1920x1080:rate=30`,
    "-f", "lavfi", "-i", `sine=frequency=440:duration=${durationSeconds}`,
    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
    file,
  ];
  const { code, stderr } = await runProgram(ffmpegPath, args);
  if (code !== 0) throw new Error(`ffmpeg could not make the test video: ${stderr.trim().split("\n").pop()}`);
}

export const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Starts the bare sharp process on `spec`; resolves when it has printed READY (if it waits) or started. */
export async function startSharp(name: string, root: string, spec: SharpSpec): Promise<Child> {
  const specFile = path.join(await fsp.mkdtemp(path.join(root, "spec-")), "spec.json");
  await fsp.writeFile(specFile, JSON.stringify(spec));
  const child = startScript(name, path.join(import.meta.dirname, "bare-sharp.ts"), { ...process.env, BENCH_SPEC: specFile });
  if (spec.waitForSignal) await waitForLine(child, /^READY$/, READY_TIMEOUT_MS);
  return child;
}
