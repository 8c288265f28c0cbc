// The client kit of the media library: typed documents for its operations, a small client for
// queries, uploads with progress and live updates over subscriptions. Runs in browsers and Node.
export { createMediaClient } from "./client.js";
export type { MediaClient, MediaClientOptions, UploadShelfOptions, UploadedShelf, ShelfUpdate, LibraryUpdate } from "./client.js";
export { MediaClientError } from "./errors.js";
export type { GraphQLErrorEntry } from "./errors.js";
export type { UploadProgress, UploadControl } from "./upload.js";
export type { TypedDocument } from "./documents.js";
export * from "./generated/graphql.js";
