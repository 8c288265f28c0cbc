import type http from "node:http";
import type { Duplex } from "node:stream";
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from "graphql";
import { CloseCode } from "graphql-ws";
import { useServer, type Extra } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import type { Viewer } from "../auth/viewer.js";
import type { Config } from "../config.js";
import type { Context } from "../graphql/context.js";
import { createErrorFormatter } from "../graphql/errors.js";
import { createLoaders } from "../graphql/loaders.js";
import { sharedSubscribe } from "../graphql/shared-subscribe.js";
import { MediaError } from "../errors.js";
import type { Services } from "../media/services.js";
import { ConnectionRate } from "./connection-rate.js";
import { isOriginAllowed } from "./cors.js";
import type { PersistedOperations } from "../graphql/persisted-operations.js";
import { limitRules } from "./server.js";

export interface SubscriptionServerOptions {
  server: http.Server;
  schema: GraphQLSchema;
  services: Services;
  resolveViewer: (authorization: string | undefined) => Promise<Viewer>;
  cors: Config["cors"];
  subscriptions: Config["subscriptions"];
  limits: Config["graphqlLimits"];
  production: boolean;
  introspection: boolean;
  log: (message: string) => void;
  /** With `only`, subscriptions too must be the manifest's operations. */
  persistedOperations?: PersistedOperations;
}

export interface SubscriptionServer {
  /** Open WebSocket connections. */
  connections(): number;
  close(): Promise<void>;
}

const PATH = "/graphql";
/** A subscribe message holds one operation; nothing a client sends needs more. */
const MAX_MESSAGE_BYTES = 64 * 1024;
/** setTimeout's longest wait; a token valid for longer is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Connection {
  viewer?: Viewer;
  expiry?: NodeJS.Timeout;
}

/**
 * GraphQL subscriptions over WebSocket (the graphql-ws protocol) on the HTTP server's /graphql.
 * The HTTP endpoint's rules hold here too: the same viewer from the same credentials (sent in
 * connection_init), the same validation limits and error codes. Besides: browsers only from
 * allowed origins, a connection rate per address, a number of subscriptions per connection,
 * keep-alive pings, and the connection closes when its token expires. Queries and mutations go
 * over HTTP, where uploads, CSRF prevention and persisted operations are handled.
 */
export function attachSubscriptions(options: SubscriptionServerOptions): SubscriptionServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const rate = new ConnectionRate(options.subscriptions.connectionsPerMinute);
  const connections = new WeakMap<WebSocket, Connection>();
  const queryTexts = new WeakMap<DocumentNode, string>();
  const formatError = createErrorFormatter({ production: options.production, log: options.log });
  const rules = [
    ...specifiedRules,
    ...limitRules(options.limits, options.production),
    ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];

  const format = (errors: readonly GraphQLError[]) =>
    errors.map((error) => {
      const formatted = formatError(error.toJSON(), error);
      // As Apollo does in production: no schema hints in messages.
      return options.production ? { ...formatted, message: formatted.message.replace(/ Did you mean .*\?$/, "") } : formatted;
    });

  const refuse = (message: string, code: string) => [new GraphQLError(message, { extensions: { code } })];

  const server = useServer<Record<string, unknown>, Extra & Record<PropertyKey, unknown>>(
    {
      schema: options.schema,
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const connection: Connection = {};
        connections.set(socket, connection);
        try {
          connection.viewer = await options.resolveViewer(authorizationOf(ctx.connectionParams));
        } catch (err) {
          if (!(err instanceof MediaError)) options.log(`subscription connection refused: ${(err as Error)?.stack ?? String(err)}`);
          socket.close(CloseCode.Forbidden, err instanceof MediaError ? err.message : "Forbidden");
          return false;
        }
        closeAtExpiry(socket, connection);
        return true;
      },
      // Refusals are errors, which onError gives their codes.
      onSubscribe: async (ctx, _id, payload) => {
        // The operation being subscribed is already counted.
        if (Object.keys(ctx.subscriptions).length > options.subscriptions.perConnection) {
          return refuse(`At most ${options.subscriptions.perConnection} subscriptions per connection`, "LIMIT_EXCEEDED");
        }
        if (typeof payload.query !== "string" || payload.query === "") {
          return refuse("A query is required", "BAD_REQUEST");
        }
        if (options.persistedOperations?.only && !options.persistedOperations.allows({ query: payload.query })) {
          return refuse("Only persisted operations are accepted here, and this one is not among them", "PERSISTED_QUERY_NOT_ALLOWED");
        }
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: 10_000 });
        } catch (err) {
          return refuse((err as GraphQLError).message, "GRAPHQL_PARSE_FAILED");
        }
        queryTexts.set(document, payload.query);
        const invalid = validate(options.schema, document, rules);
        if (invalid.length > 0) {
          return invalid.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }));
        }
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return refuse("The operation to run is not clear: name it", "BAD_REQUEST");
        if (operation.operation !== "subscription") {
          return refuse("Only subscriptions are served over WebSocket; send queries and mutations over HTTP", "BAD_REQUEST");
        }
        const viewer = connections.get(ctx.extra.socket)?.viewer;
        if (!viewer) return refuse("Not authenticated", "UNAUTHENTICATED");
        const contextValue: Context = { viewer, services: options.services, loaders: createLoaders(options.services) };
        return {
          schema: options.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
      },
      // Subscribers that sent the same operation share each event's result (see sharedSubscribe).
      subscribe: (args) =>
        sharedSubscribe(args, `${args.operationName ?? ""}\n${queryTexts.get(args.document)}\n${JSON.stringify(args.variableValues ?? {})}`),
      onNext: (_ctx, _id, _payload, _args, result) => {
        const { errors, ...rest } = result as ExecutionResult;
        return errors ? { ...rest, errors: format(errors) } : undefined;
      },
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onClose: (ctx) => {
        const connection = connections.get(ctx.extra.socket);
        clearTimeout(connection?.expiry);
      },
    },
    wss,
    options.subscriptions.keepAliveMs,
  );

  function closeAtExpiry(socket: WebSocket, connection: Connection): void {
    const expiresAt = connection.viewer?.expiresAt;
    if (expiresAt === undefined) return;
    const wait = expiresAt - Date.now();
    connection.expiry = setTimeout(
      () => (wait > MAX_TIMER_MS ? closeAtExpiry(socket, connection) : socket.close(CloseCode.Forbidden, "The token has expired")),
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
  }

  const onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path !== PATH) return answer(socket, 404, "Not Found");
    if (!isOriginAllowed(request.headers.origin, options.cors, request.headers.host)) return answer(socket, 403, "Forbidden");
    const address = request.socket.remoteAddress ?? "";
    if (!rate.admit(address)) return answer(socket, 429, "Too Many Requests", { "Retry-After": String(rate.retryAfterSeconds(address)) });
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
  };
  options.server.on("upgrade", onUpgrade);

  return {
    connections: () => wss.clients.size,
    async close() {
      options.server.off("upgrade", onUpgrade);
      rate.close();
      // Clients that do not answer the close handshake go at once: shutdown does not wait on them.
      const closing = server.dispose();
      const stragglers = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, 1000);
      await closing;
      clearTimeout(stragglers);
    },
  };
}

/** Credentials from connection_init: `Authorization` in any case, or inside `headers` (GraphiQL). */
function authorizationOf(params: Record<string, unknown> | undefined): string | undefined {
  const find = (record: unknown): string | undefined => {
    if (!record || typeof record !== "object") return undefined;
    for (const [key, value] of Object.entries(record)) if (key.toLowerCase() === "authorization" && typeof value === "string") return value;
    return undefined;
  };
  return find(params) ?? find(params?.headers);
}

/** Refuses an upgrade with a plain HTTP answer. */
function answer(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  const lines = [`HTTP/1.1 ${status} ${reason}`, "Connection: close", "Content-Length: 0", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${lines.join("\r\n")}\r\n\r\n`);
}
