import { MediaClientError, resultData } from "./errors.js";
import type { WireDocument } from "./documents.js";

export type HeadersSource = () => Promise<Record<string, string>>;

export interface Transport {
  url: string;
  fetch: typeof fetch;
  headers: HeadersSource;
  /** Send the hash alone first (automatic persisted queries); the text only when the service asks. */
  persisted: boolean;
}

/**
 * Posts one operation as JSON. With persisted queries the hash goes alone first; a service that
 * does not know it answers PERSISTED_QUERY_NOT_FOUND, and the text follows with the hash, which
 * the service keeps for next time. (The not-found answer comes before anything runs, so sending a
 * mutation again is safe.)
 */
export async function postOperation<T>(transport: Transport, document: WireDocument, variables: unknown, signal?: AbortSignal): Promise<T> {
  const persistedQuery = { version: 1, sha256Hash: document.sha256 };
  if (transport.persisted) {
    const first = await post(transport, { variables, extensions: { persistedQuery } }, signal);
    if (!isPersistedQueryNotFound(first.body)) return resultData<T>(first.body, first.status);
  }
  const body = transport.persisted ? { query: document.text, variables, extensions: { persistedQuery } } : { query: document.text, variables };
  const answer = await post(transport, body, signal);
  return resultData<T>(answer.body, answer.status);
}

async function post(transport: Transport, body: object, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await transport.fetch(transport.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", ...(await transport.headers()) },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new MediaClientError("The service could not be reached", { code: "NETWORK_ERROR", cause: err });
  }
  return { status: response.status, body: await readJson(response) };
}

/** The JSON of an answer; an answer that is not JSON (a proxy's error page) becomes an error. */
export async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new MediaClientError(`The service answered ${response.status} without a GraphQL response`, {
      code: response.status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_RESPONSE",
      status: response.status,
    });
  }
}

function isPersistedQueryNotFound(body: unknown): boolean {
  const errors = (body as { errors?: Array<{ extensions?: { code?: string } }> } | null)?.errors;
  return errors?.some((e) => e.extensions?.code === "PERSISTED_QUERY_NOT_FOUND") ?? false;
}
