import { ApolloServer } from "@apollo/server";
import { costLimitRule } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type NextFunction, type Request, type Response } from "express";
import { GraphQLError, type GraphQLSchema, type ValidationContext } from "graphql";
import type { Viewer } from "../auth/viewer.js";
import type { Context } from "../graphql/context.js";
import { createErrorFormatter } from "../graphql/errors.js";
import { compiledExecution } from "../graphql/executor.js";
import { createLoaders } from "../graphql/loaders.js";
import type { PersistedOperations } from "../graphql/persisted-operations.js";
import { uploadRequestRules } from "../graphql/uploads.js";
import { MediaError } from "../errors.js";
import type { Services } from "../media/services.js";
import { corsMiddleware, type CorsSettings } from "./cors.js";
import { graphiqlRoutes } from "./graphiql.js";
import { mediaRoutes } from "./media.js";
import { multipartGuard, multipartUploads } from "./multipart.js";
import { persistedOperationsGate } from "./persisted-operations.js";

export interface HttpOptions {
  /** The executable schema (also served over the WebSocket). */
  schema: GraphQLSchema;
  services: Services;
  resolveViewer: (authorization: string | undefined) => Promise<Viewer>;
  production: boolean;
  introspection: boolean;
  limits: { maxDepth: number; maxAliases: number; maxCost: number };
  maxFiles: number;
  /** How long the media route waits for an image version that is being made. */
  versionWaitMs: number;
  /** Browser origins allowed to call /graphql, the media routes and whatever else is mounted. */
  cors: CorsSettings;
  /** Serve the in-browser IDE at /graphiql and to browsers opening /graphql. */
  graphiql: boolean;
  log: (message: string) => void;
  healthCheck: () => Promise<void>;
  /** Operations from a manifest, preloaded; with `only`, nothing else runs. */
  persistedOperations?: PersistedOperations;
}

const HTTP_STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403 };

export async function createHttpApp(options: HttpOptions): Promise<{ app: express.Express; apollo: ApolloServer<Context> }> {
  const apollo = new ApolloServer<Context>({
    gateway: compiledExecution(options.schema),
    csrfPrevention: true,
    // The process entry shuts everything down in order on a signal; the server must not do it on its own.
    stopOnTerminationSignals: false,
    allowBatchedHttpRequests: false,
    introspection: options.introspection,
    includeStacktraceInErrorResponses: !options.production,
    hideSchemaDetailsFromClientErrors: options.production,
    // Depth, alias and cost limits: one request cannot ask for unbounded work.
    validationRules: limitRules(options.limits, options.production),
    formatError: createErrorFormatter({ production: options.production, log: options.log }),
    // No cache hints are used; the default cache-control plugin would still run a hook per field.
    plugins: [ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled(), uploadRequestRules()],
    // Automatic persisted queries are on (Apollo's default); a manifest's operations are found first.
    ...(options.persistedOperations ? { persistedQueries: { cache: options.persistedOperations.apqCache() } } : {}),
  });
  await apollo.start();

  const app = express();
  app.disable("x-powered-by");
  // Media responses set their own validators; a hash of every GraphQL answer would only cost time.
  app.set("etag", false);
  // First, so preflights are answered before CSRF prevention and the multipart guard.
  app.use(corsMiddleware(options.cors));

  app.get("/healthz", async (_req, res) => {
    try {
      await options.healthCheck();
      res.json({ status: "ok" });
    } catch {
      res.status(503).json({ status: "unavailable" });
    }
  });

  for (const [path, router] of mediaRoutes({
    shelves: options.services.shelves,
    versions: options.services.versions,
    storages: options.services.storages,
    versionWaitMs: options.versionWaitMs,
    log: options.log,
  })) {
    app.use(path, router);
  }

  // Before the endpoint: a browser's GET of /graphql gets the IDE (or a short 404), not Apollo's CSRF refusal.
  app.use(graphiqlRoutes({ enabled: options.graphiql }));

  app.use(
    "/graphql",
    multipartGuard,
    express.json({ limit: "1mb" }),
    multipartUploads({
      // One byte over the largest kind's limit, so the per-kind check always sees the excess.
      maxFileSize: options.services.kinds.largestLimit() + 1,
      maxFiles: options.maxFiles,
      maxFieldSize: 1_000_000,
    }),
    ...(options.persistedOperations ? [persistedOperationsGate(options.persistedOperations)] : []),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        let viewer: Viewer;
        try {
          viewer = await options.resolveViewer(req.headers.authorization);
        } catch (err) {
          if (err instanceof MediaError) {
            throw new GraphQLError(err.message, {
              extensions: { code: err.code, http: { status: HTTP_STATUS[err.code] ?? 400 } },
            });
          }
          throw err;
        }
        return { viewer, services: options.services, loaders: createLoaders(options.services) };
      },
    }),
  );

  app.use(graphqlHttpErrors(options.log));
  return { app, apollo };
}

/**
 * The limit rules report their refusals as validation errors (400, GRAPHQL_VALIDATION_FAILED);
 * left to their default they throw, which the server would answer with a 500.
 */
export function limitRules(limits: HttpOptions["limits"], production: boolean) {
  const common = {
    exposeLimits: !production,
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
  };
  return [
    maxDepthRule({ ...common, n: limits.maxDepth, errorMessage: "Query is too deep." }),
    maxAliasesRule({ ...common, n: limits.maxAliases, errorMessage: "Query has too many aliases." }),
    costLimitRule({ ...common, maxCost: limits.maxCost, errorMessage: "Query is too costly." }),
  ];
}

/** Errors raised before GraphQL runs (multipart parsing, body size) answered in GraphQL's shape. */
function graphqlHttpErrors(log: (m: string) => void) {
  return (err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status ?? 500;
    const code = status === 413 ? "PAYLOAD_TOO_LARGE" : status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR";
    if (status >= 500) log(`request failed: ${err.stack ?? err.message}`);
    if (res.headersSent) return;
    res.status(status).json({ errors: [{ message: status < 500 ? err.message : "Internal server error", extensions: { code } }] });
  };
}
