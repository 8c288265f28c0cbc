import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { MediaError } from "../errors.js";
import { StorageError } from "../storage/contract.js";

/**
 * Gives every error a code from the API's list. Errors the service raises on purpose keep their
 * message; anything else is an INTERNAL_SERVER_ERROR whose details stay in the log in production.
 */
export function createErrorFormatter(options: { production: boolean; log: (message: string) => void }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof MediaError) {
      return { ...formatted, message: original.message, extensions: { ...formatted.extensions, code: original.code } };
    }
    if (original instanceof StorageError) {
      const code = original.code === "NOT_FOUND" ? "NOT_FOUND" : "STORAGE_UNAVAILABLE";
      const message = code === "STORAGE_UNAVAILABLE" && options.production ? "Storage is unavailable" : original.message;
      options.log(`storage error: ${original.message}`);
      return { ...formatted, message, extensions: { ...formatted.extensions, code } };
    }
    if (isUploadLimitError(original)) {
      return { ...formatted, message: original.message, extensions: { ...formatted.extensions, code: "PAYLOAD_TOO_LARGE" } };
    }
    const code = formatted.extensions?.code;
    if (original instanceof GraphQLError || (code && code !== "INTERNAL_SERVER_ERROR")) return formatted;
    options.log(`internal error: ${(original as Error)?.stack ?? String(original)}`);
    if (!options.production) return { ...formatted, extensions: { ...formatted.extensions, code: "INTERNAL_SERVER_ERROR" } };
    return { message: "Internal server error", locations: formatted.locations, path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
  };
}

/** The multipart parser's own limit errors carry HTTP status 413. */
function isUploadLimitError(error: unknown): error is Error {
  return error instanceof Error && (error as Error & { status?: number }).status === 413;
}
