import type { Fetcher, FetcherOpts, FetcherParams } from "@graphiql/toolkit";
import { getOperationAST, parse, type DocumentNode, type ExecutionResult, type OperationDefinitionNode } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { multipartForm, parseVariablePath, type FileAtPath } from "./multipart.js";

export interface MediaFetcherOptions {
  /** Absolute URL of the GraphQL endpoint. */
  url: string;
  /** ws(s):// URL of the graphql-ws endpoint. */
  subscriptionUrl: string;
  /** The files picked for the next operation, each with the variable path it fills. */
  files: () => readonly { path: string; file: File | null }[];
  /**
   * The headers editor once it exists. GraphiQL introspects before its editors are made, so
   * without this the first introspection would go without the saved token and be refused.
   */
  headersEditor: Promise<{ getValue(): string }>;
}

// What the service answers, passed to GraphiQL as it came.
type Result = ExecutionResult;

/**
 * GraphiQL's fetcher: queries and mutations as JSON over HTTP, or as a multipart request when
 * picked files fill variables the operation declares; subscriptions over graphql-ws. The headers
 * editor's JSON goes with every HTTP request and is the WebSocket's connection parameters.
 */
export function createMediaFetcher(options: MediaFetcherOptions): Fetcher {
  const sockets = new SocketPerHeaders(options.subscriptionUrl);
  let editorReady = false;
  void options.headersEditor.then(() => (editorReady = true));
  const headersOf = async (opts?: FetcherOpts) => {
    if (editorReady || opts?.headers) return stringHeaders(opts?.headers);
    return stringHeaders(parseHeaders((await options.headersEditor).getValue()));
  };
  return async (params: FetcherParams, opts?: FetcherOpts) => {
    const headers = await headersOf(opts);
    const operation = operationOf(params, opts?.documentAST);
    if (operation?.operation === "subscription") return sockets.subscribe(params, headers);
    const declared = new Set(operation?.variableDefinitions?.map((d) => d.variable.name.value) ?? []);
    let files: FileAtPath[];
    try {
      files = options.files().flatMap((f) => (f.file && declared.has(parseVariablePath(f.path)[0]!) ? [{ path: f.path, file: f.file }] : []));
    } catch (err) {
      return failure((err as Error).message);
    }
    if (files.length === 0) {
      return post(options.url, JSON.stringify(params), { "content-type": "application/json", accept: "application/json", ...headers });
    }
    // Apollo's CSRF prevention answers a multipart request only with this header (a browser
    // cannot send it cross-site without a preflight).
    return post(options.url, multipartForm(params, files), { accept: "application/json", "apollo-require-preflight": "true", ...headers });
  };
}

function operationOf(params: FetcherParams, document: DocumentNode | undefined): OperationDefinitionNode | null {
  try {
    return getOperationAST(document ?? parse(params.query), params.operationName ?? undefined) ?? null;
  } catch {
    return null; // unparsable: the server explains why
  }
}

function parseHeaders(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = text.trim() ? JSON.parse(text) : undefined;
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // GraphiQL itself reports headers that are not JSON
  }
}

function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** An error shown in the result pane like the service's own. */
function failure(message: string): Result {
  return { errors: [{ message }] } as unknown as Result;
}

async function post(url: string, body: string | FormData, headers: Record<string, string>): Promise<Result> {
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", body, headers });
  } catch (err) {
    return failure(`The service could not be reached: ${(err as Error).message}`);
  }
  const text = await response.text();
  try {
    return JSON.parse(text) as Result;
  } catch {
    return failure(`The service answered ${response.status} ${response.statusText} without a GraphQL result`);
  }
}

/**
 * One graphql-ws client for the current headers; new headers (another token) make a new
 * connection, since connection parameters are sent once, in connection_init.
 */
class SocketPerHeaders {
  private client?: Client;
  private key?: string;

  constructor(private readonly url: string) {}

  subscribe(params: FetcherParams, headers: Record<string, string>): AsyncIterableIterator<Result> {
    const key = JSON.stringify(headers);
    if (!this.client || this.key !== key) {
      void this.client?.dispose();
      this.key = key;
      this.client = createClient({ url: this.url, connectionParams: headers, lazy: true, retryAttempts: 0 });
    }
    const events = this.client.iterate({ query: params.query, operationName: params.operationName ?? undefined, variables: params.variables ?? undefined });
    return readableErrors(events as AsyncIterableIterator<Result>);
  }
}

/**
 * GraphQL errors of a subscription are shown as a result (as GraphiQL shows a query's); a socket
 * that closes, a CloseEvent, becomes an Error whose message GraphiQL can show.
 */
function readableErrors(events: AsyncIterableIterator<Result>): AsyncIterableIterator<Result> {
  let ended = false;
  return {
    async next() {
      if (ended) return { done: true, value: undefined };
      try {
        return await events.next();
      } catch (err) {
        if (Array.isArray(err)) {
          ended = true;
          return { done: false, value: { errors: err } as Result };
        }
        if (typeof CloseEvent !== "undefined" && err instanceof CloseEvent) {
          throw new Error(`The subscription connection closed (${err.code}${err.reason ? `: ${err.reason}` : ""})`);
        }
        throw err;
      }
    },
    return: () => events.return?.() ?? Promise.resolve({ done: true, value: undefined }),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
