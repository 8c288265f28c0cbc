import { createDocumentResolver, type TypedDocument } from "./documents.js";
import {
  LibraryUpdatedDocument,
  ShelfUpdatedDocument,
  UploadShelfDocument,
  type LibraryUpdatedSubscription,
  type RelationTargetInput,
  type ShelfUpdatedSubscription,
  type UploadShelfMutation,
  type Visibility,
  type MediaKind,
} from "./generated/graphql.js";
import { createSubscriptions } from "./subscriptions.js";
import { postOperation, type HeadersSource, type Transport } from "./transport.js";
import { multipartBody, sendMultipart, type UploadControl } from "./upload.js";

export interface MediaClientOptions {
  /** The GraphQL endpoint, e.g. https://media.example.com/graphql. */
  url: string;
  /** The WebSocket endpoint for subscriptions; by default `url` with ws: or wss:. */
  wsUrl?: string;
  /** Fixed headers, e.g. { Authorization: "Bearer …" } or { Authorization: "ApiKey …" }. */
  headers?: Record<string, string>;
  /** Headers per request (a token that is refreshed); wins over `headers`. */
  getHeaders?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Defaults to the global fetch. Given one, uploads go through it too (not XMLHttpRequest). */
  fetch?: typeof fetch;
  /** Automatic persisted queries: the hash first, the text only when asked for. On by default. */
  persistedQueries?: boolean;
  /** An app's own persisted-documents.json (hash → text), for documents generated outside the kit. */
  persistedDocuments?: Record<string, string>;
  /** A WebSocket constructor where there is no global one; `ws` is loaded in Node 20 otherwise. */
  webSocketImpl?: unknown;
  /** How often a dropped subscription connection is retried (default 5). */
  wsRetryAttempts?: number;
}

export interface UploadShelfOptions {
  kind?: MediaKind;
  title?: string;
  visibility?: Visibility;
  attachTo?: RelationTargetInput;
  /** The name sent for a Blob that is not a File (a File's own name otherwise). */
  filename?: string;
}

export type UploadedShelf = UploadShelfMutation["uploadShelf"];
export type ShelfUpdate = ShelfUpdatedSubscription["shelfUpdated"];
export type LibraryUpdate = LibraryUpdatedSubscription["libraryUpdated"];

export interface MediaClient {
  /** Runs a typed query or mutation; GraphQL errors are thrown as MediaClientError. */
  request<TResult, TVariables>(document: TypedDocument<TResult, TVariables>, variables: TVariables, options?: { signal?: AbortSignal }): Promise<TResult>;
  /** Uploads one file as a new shelf, reporting the file bytes sent. */
  uploadShelf(file: Blob, options?: UploadShelfOptions, control?: UploadControl): Promise<UploadedShelf>;
  /** Every change to one shelf: status and progress of its versions, poster frames, deletion. */
  watchShelf(id: string): AsyncGenerator<ShelfUpdate, void, undefined>;
  /** The viewer's shelves added, changed or deleted. */
  watchLibrary(): AsyncGenerator<LibraryUpdate, void, undefined>;
  /** Any typed subscription. */
  subscribe<TResult, TVariables>(document: TypedDocument<TResult, TVariables>, variables: TVariables): AsyncGenerator<TResult, void, undefined>;
  /** Closes the subscription connection. */
  dispose(): Promise<void>;
}

export function createMediaClient(options: MediaClientOptions): MediaClient {
  const url = absoluteUrl(options.url);
  const headers: HeadersSource = async () => ({ ...options.headers, ...(await options.getHeaders?.()) });
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const transport: Transport = { url, fetch: fetchImpl, headers, persisted: options.persistedQueries ?? true };
  const wire = createDocumentResolver(options.persistedDocuments);
  const subscriptions = createSubscriptions({
    url: options.wsUrl ?? url.replace(/^http/, "ws"),
    headers,
    webSocketImpl: options.webSocketImpl,
    retryAttempts: options.wsRetryAttempts,
  });
  // A browser sends the file with XMLHttpRequest for its upload events; given a fetch, it is used.
  const useXhr = !options.fetch && typeof XMLHttpRequest === "function";

  async function* subscribe<TResult, TVariables>(document: TypedDocument<TResult, TVariables>, variables: TVariables) {
    const { text } = await wire(document);
    yield* subscriptions.iterate<TResult>(text, variables);
  }

  return {
    async request(document, variables, requestOptions) {
      return postOperation(transport, await wire(document), variables, requestOptions?.signal);
    },
    async uploadShelf(file, uploadOptions = {}, control = {}) {
      const { filename, ...input } = uploadOptions;
      const name = filename ?? (file as File).name ?? "upload";
      const variables = { input: { ...input, file: null } };
      const body = multipartBody(await wire(UploadShelfDocument), variables, "input.file", file, name);
      const data = await sendMultipart<UploadShelfMutation>({ ...transport, useXhr }, body, control);
      return data.uploadShelf;
    },
    async *watchShelf(id) {
      for await (const data of subscribe(ShelfUpdatedDocument, { id })) yield data.shelfUpdated;
    },
    async *watchLibrary() {
      for await (const data of subscribe(LibraryUpdatedDocument, {})) yield data.libraryUpdated;
    },
    subscribe,
    dispose: () => subscriptions.dispose(),
  };
}

/** A relative endpoint ("/graphql") is taken relative to the page. */
function absoluteUrl(url: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  return new URL(url, base).toString();
}
