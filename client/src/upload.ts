import { MediaClientError, resultData } from "./errors.js";
import type { WireDocument } from "./documents.js";
import { readJson, type Transport } from "./transport.js";

export interface UploadProgress {
  /** File bytes sent so far. */
  loaded: number;
  /** The file's size. */
  total: number;
}

export interface UploadControl {
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

/**
 * A GraphQL multipart request (operations, map, then the file) built by hand rather than with
 * FormData, so the bytes before and after the file are known and progress can be told in file
 * bytes, whichever way the body is sent.
 */
export interface MultipartBody {
  contentType: string;
  head: Uint8Array;
  file: Blob;
  tail: Uint8Array;
}

export function multipartBody(document: WireDocument, variables: unknown, variablePath: string, file: Blob, filename: string): MultipartBody {
  const boundary = `----medialibrary${Array.from(globalThis.crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
  // The hash travels with the text, so a service accepting only persisted operations can check it.
  const operations = JSON.stringify({ query: document.text, variables, extensions: { persistedQuery: { version: 1, sha256Hash: document.sha256 } } });
  const map = JSON.stringify({ 0: [`variables.${variablePath}`] });
  const field = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head =
    field("operations", operations) +
    field("map", map) +
    `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${escapeFilename(filename)}"\r\n` +
    `Content-Type: ${file.type || "application/octet-stream"}\r\n\r\n`;
  const encoder = new TextEncoder();
  return { contentType: `multipart/form-data; boundary=${boundary}`, head: encoder.encode(head), file, tail: encoder.encode(`\r\n--${boundary}--\r\n`) };
}

/** As browsers encode a file name in multipart/form-data (quotes and line breaks escaped). */
function escapeFilename(name: string): string {
  return name.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/**
 * Sends the body and reports progress: through XMLHttpRequest's upload events in a browser (a
 * streamed fetch body needs HTTP/2 there), and as a counted stream through fetch elsewhere, where
 * the count follows what the connection has taken.
 */
export async function sendMultipart<T>(transport: Transport & { useXhr: boolean }, body: MultipartBody, control: UploadControl): Promise<T> {
  const headers = { "apollo-require-preflight": "true", "content-type": body.contentType, ...(await transport.headers()) };
  const total = body.file.size;
  let reported = -1;
  const report = (loaded: number) => {
    const clamped = Math.min(total, Math.max(0, loaded));
    if (clamped <= reported) return;
    reported = clamped;
    control.onProgress?.({ loaded: clamped, total });
  };
  const answer = transport.useXhr ? await sendWithXhr(transport.url, headers, body, report, control.signal) : await sendWithFetch(transport, headers, body, report, control.signal);
  report(total);
  return resultData<T>(answer.body, answer.status);
}

type Report = (fileBytesSent: number) => void;

function sendWithXhr(url: string, headers: Record<string, string>, body: MultipartBody, report: Report, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => report(event.loaded - body.head.byteLength);
    xhr.onload = () => {
      try {
        resolve({ status: xhr.status, body: JSON.parse(xhr.responseText) });
      } catch {
        reject(new MediaClientError(`The service answered ${xhr.status} without a GraphQL response`, { code: xhr.status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_RESPONSE", status: xhr.status }));
      }
    };
    xhr.onerror = () => reject(new MediaClientError("The service could not be reached", { code: "NETWORK_ERROR" }));
    xhr.onabort = () => reject(signal?.reason ?? new DOMException("The upload was aborted", "AbortError"));
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(new Blob([body.head as Uint8Array<ArrayBuffer>, body.file, body.tail as Uint8Array<ArrayBuffer>]));
  });
}

/** Bytes per pull: small enough for steady progress, large enough not to cost. */
const CHUNK = 64 * 1024;

async function sendWithFetch(transport: Transport, headers: Record<string, string>, body: MultipartBody, report: Report, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
  let sent = 0;
  let stage: "head" | "file" | "tail" = "head";
  const stream = new ReadableStream<Uint8Array>({
    // Pulled one chunk at a time as the connection drains, so the count tracks what was sent.
    // The file is read a slice at a time: a Blob's own stream may hand it over in one piece.
    async pull(controller) {
      if (stage === "head") {
        stage = "file";
        controller.enqueue(body.head);
      } else if (stage === "file" && sent < body.file.size) {
        const chunk = new Uint8Array(await body.file.slice(sent, sent + CHUNK).arrayBuffer());
        sent += chunk.byteLength;
        controller.enqueue(chunk);
        report(sent);
      } else {
        stage = "tail";
        controller.enqueue(body.tail);
        controller.close();
      }
    },
  });
  let response: Response;
  try {
    response = await transport.fetch(transport.url, { method: "POST", headers, body: stream, signal, duplex: "half" } as RequestInit);
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err;
    throw new MediaClientError("The service could not be reached", { code: "NETWORK_ERROR", cause: err });
  }
  return { status: response.status, body: await readJson(response) };
}
