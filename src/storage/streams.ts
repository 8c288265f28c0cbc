import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { unavailable } from "./contract.js";

/** Pipes `content` into `sink`; the content's own errors come out unchanged, the sink's as STORAGE_UNAVAILABLE. */
export async function writeFrom(content: Readable, sink: NodeJS.WritableStream): Promise<void> {
  let contentError: unknown;
  let sinkError: unknown;
  content.once("error", (err) => (contentError = err));
  sink.once("error", (err) => (sinkError = err));
  try {
    await pipeline(content, sink);
  } catch (err) {
    // When the sink fails, the pipeline tears the content down too: that is not the content's fault.
    throw sinkError === undefined && contentError !== undefined ? contentError : unavailable(sinkError ?? err);
  }
}

/**
 * The error to report when writing `content` failed with `err`: the content's own (a client
 * that went away, a size limit), or else a storage failure. A writer that gives up tears the
 * content down with the store's error or an AbortError; neither is the content's fault.
 */
export function writeError(err: unknown, contentError: unknown): unknown {
  const fromStore = (e: unknown) => typeof e === "object" && e !== null && "$metadata" in e;
  const own = contentError !== undefined && (contentError as Error)?.name !== "AbortError" && !fromStore(contentError);
  return own ? contentError : unavailable(err);
}
