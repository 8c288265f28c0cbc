/** One error of a GraphQL response, as the service sends it. */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

/**
 * A request the service refused or could not answer. `code` is the first error's
 * `extensions.code` (UNSUPPORTED_MEDIA_TYPE, NOT_FOUND, PAYLOAD_TOO_LARGE, ...), or NETWORK_ERROR
 * when no GraphQL answer arrived at all.
 */
export class MediaClientError extends Error {
  readonly code: string;
  readonly errors: readonly GraphQLErrorEntry[];
  /** HTTP status of the answer; 0 when there was none. */
  readonly status: number;
  /** Whatever data came with the errors (a partial result). */
  readonly data: unknown;

  constructor(message: string, options: { code: string; errors?: readonly GraphQLErrorEntry[]; status?: number; data?: unknown; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MediaClientError";
    this.code = options.code;
    this.errors = options.errors ?? [];
    this.status = options.status ?? 0;
    this.data = options.data;
  }

  static fromErrors(errors: readonly GraphQLErrorEntry[], status: number, data?: unknown): MediaClientError {
    const first = errors[0];
    return new MediaClientError(first?.message ?? "The request failed", {
      code: first?.extensions?.code ?? (status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST"),
      errors,
      status,
      data,
    });
  }
}

/** The data of a GraphQL answer, or its errors thrown as one MediaClientError. */
export function resultData<T>(body: unknown, status: number): T {
  const result = (body ?? {}) as { data?: T | null; errors?: GraphQLErrorEntry[] };
  if (result.errors?.length) throw MediaClientError.fromErrors(result.errors, status, result.data);
  if (result.data == null) {
    throw new MediaClientError(`The service answered ${status} without data`, { code: status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_RESPONSE", status });
  }
  return result.data;
}
