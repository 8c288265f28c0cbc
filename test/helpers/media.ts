import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";

const run = promisify(execFile);

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A real image made by sharp: a gradient-ish test card of the given size and format. */
export async function makeImage(
  width: number,
  height: number,
  format: "jpeg" | "png" | "webp" | "gif" | "avif" | "tiff" = "jpeg",
  options: { alpha?: boolean } = {},
): Promise<Buffer> {
  const channels = options.alpha ? 4 : 3;
  const base = sharp({
    create: { width, height, channels, background: { r: 200, g: 40, b: 90, alpha: options.alpha ? 0.5 : 1 } },
  }).composite([
    {
      input: Buffer.from(`<svg width="${width}" height="${height}"><rect x="0" y="0" width="${Math.ceil(width / 2)}" height="${Math.ceil(height / 2)}" fill="#0a6"/></svg>`),
    },
  ]);
  return base.toFormat(format).toBuffer();
}

let mediaDir: Promise<string> | undefined;
const cache = new Map<string, Promise<Buffer>>();

/** Runs ffmpeg with lavfi sources to make real audio or video; cached per argument list. */
export function makeAv(name: string, args: string[]): Promise<Buffer> {
  const key = `${name} ${args.join(" ")}`;
  let made = cache.get(key);
  if (!made) {
    made = (async () => {
      mediaDir ??= fs.mkdtemp(path.join(os.tmpdir(), "media-fixtures-")).then((dir) => {
        process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
        return dir;
      });
      const out = path.join(await mediaDir, `${cache.size}-${name}`);
      await run(process.env.FFMPEG_PATH ?? "ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args, out]);
      return fs.readFile(out);
    })();
    cache.set(key, made);
  }
  return made;
}

export const makeMp3 = (seconds = 2) =>
  makeAv("tone.mp3", ["-f", "lavfi", "-i", `sine=frequency=440:duration=${seconds}`, "-c:a", "libmp3lame", "-b:a", "64k"]);

export const makeMp4 = (seconds = 2, size = "320x240") =>
  makeAv("clip.mp4", [
    "-f", "lavfi", "-i", `testsrc=duration=${seconds}:size=${size}:rate=15`,
    "-f", "lavfi", "-i", `sine=frequency=330:duration=${seconds}`,
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
  ]);

export const makeWebm = (seconds = 1) =>
  makeAv("clip.webm", ["-f", "lavfi", "-i", `testsrc=duration=${seconds}:size=160x120:rate=10`, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "100k"]);

export const makeWav = (seconds = 1) => makeAv("tone.wav", ["-f", "lavfi", "-i", `sine=frequency=220:duration=${seconds}`]);

/** A minimal valid PDF. */
export function makePdf(text = "hello"): Buffer {
  const body = `BT /F1 12 Tf 20 50 Td (${text}) Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${body.length} >>\nstream\n${body}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let pdf = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((obj, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${obj}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) pdf += `${String(off).padStart(10, "0")} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}

/** An RTF document: an accepted type that is never served inline. */
export function makeRtf(): Buffer {
  return Buffer.from("{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} \\f0 Hello from RTF.\\par}\n");
}

/** A PNG header that declares `width`x`height` pixels, with a tiny (invalid) body: a decompression bomb's shape. */
export function makePngDeclaring(width: number, height: number): Buffer {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // truecolour
  return Buffer.concat([signature, pngChunk("IHDR", ihdr), pngChunk("IDAT", Buffer.alloc(1024)), pngChunk("IEND", Buffer.alloc(0))]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
