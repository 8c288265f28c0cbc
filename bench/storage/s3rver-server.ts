/**
 * s3rver (test/helpers/s3.ts) on loopback, in a process of its own so that the server does not
 * share an event loop (or an RSS) with the client being measured. Prints S3_DIR=<data directory>
 * and S3_ENDPOINT=<url> when it listens.
 */
import { startS3Server } from "../../test/helpers/s3.js";
import { BUCKET } from "./targets.js";

const server = await startS3Server(BUCKET);
const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Should the benchmark die without stopping us (SIGKILL), we are re-parented: go too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1000).unref();
process.stdout.write(`S3_DIR=${server.directory}\nS3_ENDPOINT=${server.endpoint}\n`);
