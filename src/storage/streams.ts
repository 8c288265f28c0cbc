import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { unavailable } from "./contract.js";

/** Pipes `content` into `sink`; the content's own errors come out unchanged, the sink's as STORAGE_UNAVAILABLE. */
export async function writeFrom(content: Readable, sink: NodeJS.WritableStream): Promise<void> {
  let contentError: unknown;
  content.once("error", (err) => (contentError = err));
  try {
    await pipeline(content, sink);
  } catch (err) {
    throw contentError ?? unavailable(err);
  }
}
