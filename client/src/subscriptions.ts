import { createClient, type Client } from "graphql-ws";
import { MediaClientError, type GraphQLErrorEntry } from "./errors.js";
import type { HeadersSource } from "./transport.js";

export interface SubscriptionOptions {
  url: string;
  headers: HeadersSource;
  /** A WebSocket constructor where there is no global one (Node 20); `ws` is loaded otherwise. */
  webSocketImpl?: unknown;
  retryAttempts?: number;
}

/**
 * One graphql-ws connection per client, opened with the first subscription and closed shortly
 * after the last one ends. Authentication goes in connection_init, as the service reads it.
 */
export function createSubscriptions(options: SubscriptionOptions) {
  let client: Promise<Client> | undefined;
  const connect = async () => {
    const webSocketImpl = options.webSocketImpl ?? globalThis.WebSocket ?? (await import("ws")).WebSocket;
    return createClient({
      url: options.url,
      webSocketImpl,
      lazy: true,
      retryAttempts: options.retryAttempts ?? 5,
      connectionParams: async () => {
        const headers = await options.headers();
        const authorization = Object.entries(headers).find(([name]) => name.toLowerCase() === "authorization")?.[1];
        return authorization ? { Authorization: authorization } : {};
      },
    });
  };

  return {
    /** Each result's data, until the subscription ends or the iterator is closed; errors are thrown. */
    async *iterate<T>(query: string, variables: unknown): AsyncGenerator<T, void, undefined> {
      client ??= connect();
      const results = (await client).iterate<T>({ query, variables: variables as Record<string, unknown> });
      try {
        for await (const result of results) {
          if (result.errors?.length) throw MediaClientError.fromErrors(result.errors as GraphQLErrorEntry[], 0, result.data);
          if (result.data) yield result.data;
        }
      } catch (err) {
        throw subscriptionError(err);
      } finally {
        await results.return?.();
      }
    },
    async dispose(): Promise<void> {
      const current = client;
      client = undefined;
      if (current) await (await current).dispose();
    },
  };
}

/** graphql-ws ends an iterator with a list of GraphQL errors, a close event or an error. */
function subscriptionError(err: unknown): unknown {
  if (err instanceof MediaClientError) return err;
  if (Array.isArray(err)) return MediaClientError.fromErrors(err as GraphQLErrorEntry[], 0);
  const close = err as { code?: unknown; reason?: unknown };
  if (typeof close?.code === "number") {
    const code = close.code === 4401 ? "UNAUTHENTICATED" : close.code === 4403 ? "FORBIDDEN" : "SUBSCRIPTION_CLOSED";
    const reason = typeof close.reason === "string" && close.reason ? close.reason : "The subscription connection closed";
    return new MediaClientError(reason, { code, cause: err });
  }
  return new MediaClientError("The subscription connection failed", { code: "NETWORK_ERROR", cause: err });
}
