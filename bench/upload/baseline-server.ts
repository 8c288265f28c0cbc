/**
 * The upload benchmark's baseline: a bare Node HTTP server that only streams each request body to
 * a file of its own under BENCH_DIR and fsyncs it (the service fsyncs what it stores), then
 * answers {"bytes": N}. Prints BASELINE_PORT=<port> when it listens.
 */
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fsyncFile } from "../harness/files.js";

const dir = process.env.BENCH_DIR;
if (!dir) throw new Error("BENCH_DIR is not set");
let count = 0;
const server = http.createServer((req, res) => {
  const file = path.join(dir, `upload-${count++}.bin`);
  const sink = fs.createWriteStream(file, { flags: "wx" });
  pipeline(req, sink)
    .then(async () => {
      await fsyncFile(file);
      const body = JSON.stringify({ bytes: sink.bytesWritten });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    })
    .catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(err.message);
    });
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as net.AddressInfo;
  process.stdout.write(`BASELINE_PORT=${port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
