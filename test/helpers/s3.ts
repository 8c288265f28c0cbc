import fs from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import S3rver from "s3rver";
import { addIncompleteUploadOperations } from "./s3-multipart.js";

export interface S3Server {
  endpoint: string;
  bucket: string;
  directory: string;
  port: number;
  /** Stops answering at once, cutting open connections, as a crashed store would. */
  stop(): Promise<void>;
  /** Starts again on the same port with the same data. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real S3 server on loopback, with its own directory and one bucket. `incompleteUploads`
 * (default true) adds the listing and aborting of unfinished multipart uploads s3rver lacks.
 */
export async function startS3Server(bucket = "media", options: { incompleteUploads?: boolean } = {}): Promise<S3Server> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "media-s3-"));
  let port = 0;
  let server: S3rver | undefined;
  const start = async () => {
    server = new S3rver({ address: "127.0.0.1", port, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
    if (options.incompleteUploads ?? true) addIncompleteUploadOperations(server, directory);
    const address = (await server.run()) as AddressInfo;
    port = address.port;
  };
  const stop = async () => {
    const http = (server as unknown as { httpServer?: import("node:http").Server }).httpServer;
    http?.closeAllConnections();
    await server?.close().catch(() => {});
    server = undefined;
  };
  await start();
  return {
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    bucket,
    directory,
    get port() {
      return port;
    },
    stop,
    start,
    async close() {
      await stop();
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}

export const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
