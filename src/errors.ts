/**
 * The error every layer raises for a failure the client should hear about. Its code is one the
 * API promises (DESIGN.md); the GraphQL layer passes it on as `extensions.code` with the message,
 * so a message never carries a server path or a tool's raw output.
 */
export type MediaErrorCode =
  /** No valid credentials (a bad or expired token, an unknown API key). */
  | "UNAUTHENTICATED"
  /** Credentials that do not allow the operation (e.g. reading another owner's library without the admin role). */
  | "FORBIDDEN"
  /** No such record for this viewer (another owner's shelf included: its data is never shown). */
  | "NOT_FOUND"
  /** Input the service refuses: a bad argument, an unreadable file, a file that breaks its kind's rules. */
  | "BAD_USER_INPUT"
  /** A file whose bytes are of no format its kind accepts. */
  | "UNSUPPORTED_MEDIA_TYPE"
  /** A file over its kind's size limit, or a request over the upload limits. */
  | "PAYLOAD_TOO_LARGE"
  /** A storage backend could not be reached or failed; trying again later may succeed. */
  | "STORAGE_UNAVAILABLE";

export class MediaError extends Error {
  constructor(
    readonly code: MediaErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "MediaError";
  }
}
