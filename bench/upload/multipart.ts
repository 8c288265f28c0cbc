import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { MiB } from "../harness/settings.js";

/** The upload benchmark's files and its streaming multipart request (GraphQL multipart request spec). */

const PDF_HEADER = Buffer.from("%PDF-1.4\n", "latin1");
const UPLOAD_MUTATION =
  "mutation BenchUpload($input: UploadShelfInput!) { uploadShelf(input: $input) { id kind original { size checksum mimeType } } }";
const UPLOAD_TIMEOUT_MS = 120_000;

export interface TestFile {
  path: string;
  size: number;
  sha256: string;
}

/** PDF header + one random 1 MiB block repeated, each copy stamped with its index; fsynced. */
export function generateFile(file: string, size: number): TestFile {
  const block = randomBytes(MiB);
  const first = Buffer.from(block);
  PDF_HEADER.copy(first, 0);
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "wx");
  try {
    for (let offset = 0, index = 0; offset < size; offset += MiB, index++) {
      const whole = index === 0 ? first : block;
      const chunk = size - offset >= MiB ? whole : whole.subarray(0, size - offset);
      if (chunk.length >= 1024) chunk.writeUInt32LE(index, 1020);
      hash.update(chunk);
      for (let written = 0; written < chunk.length; ) written += fs.writeSync(fd, chunk, written);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { path: file, size, sha256: hash.digest("hex") };
}

export interface MultipartBody {
  contentType: string;
  preamble: Buffer;
  epilogue: Buffer;
  file: TestFile;
  length: number;
}

/** operations, map, then the file part, as the GraphQL multipart request spec orders them. */
export function multipartBody(file: TestFile, filename: string): MultipartBody {
  const boundary = `----mediabench${randomBytes(12).toString("hex")}`;
  const operations = JSON.stringify({ query: UPLOAD_MUTATION, variables: { input: { file: null } } });
  const map = JSON.stringify({ "0": ["variables.input.file"] });
  const preamble = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n${map}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${filename}"\r\n` +
      `Content-Type: application/pdf\r\n\r\n`,
    "utf8",
  );
  const epilogue = Buffer.from(`\r\n--${boundary}--\r\n`, "utf8");
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    preamble,
    epilogue,
    file,
    length: preamble.length + file.size + epilogue.length,
  };
}

export interface PostResult {
  status: number;
  text: string;
  seconds: number;
}

/** POSTs the body without holding the file in memory: preamble, the file streamed from disk, epilogue. */
export function postMultipart(port: number, urlPath: string, body: MultipartBody): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({
      host: "127.0.0.1",
      port,
      path: urlPath,
      method: "POST",
      agent: false,
      headers: {
        "content-type": body.contentType,
        "content-length": String(body.length),
        "apollo-require-preflight": "true",
      },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${UPLOAD_TIMEOUT_MS} ms`)), UPLOAD_TIMEOUT_MS);
    req.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("error", reject);
      res.once("end", () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString("utf8"),
          seconds: (performance.now() - started) / 1000,
        });
      });
    });
    req.write(body.preamble);
    const source = fs.createReadStream(body.file.path, { highWaterMark: MiB });
    source.once("error", (err) => req.destroy(err));
    source.once("end", () => req.end(body.epilogue));
    source.pipe(req, { end: false });
  });
}

export const sizeLabel = (bytes: number) => (bytes >= 1024 * MiB ? `${bytes / (1024 * MiB)} GiB` : `${bytes / MiB} MiB`);
