import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { makeExecutableSchema } from "@graphql-tools/schema";
import { ApiKeyService } from "./auth/apikeys.js";
import { createViewerResolver } from "./auth/viewer.js";
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./db/client.js";
import { applyPendingMigrations } from "./db/migrate.js";
import { resolvers } from "./graphql/resolvers/index.js";
import { loadPersistedOperations } from "./graphql/persisted-operations.js";
import { createHttpApp } from "./http/server.js";
import { attachSubscriptions, type SubscriptionServer } from "./http/websocket.js";
import { buildEngine } from "./engine.js";
import type { Services } from "./media/services.js";

const SCHEMA_FILE = fileURLToPath(new URL("../schema.graphql", import.meta.url));

export interface RunningApp {
  url: string;
  server: http.Server;
  services: Services;
  db: Database;
  subscriptions: SubscriptionServer;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: (message: string) => void;
  /** Called for every SQL statement (tests count them). */
  onQuery?: (sql: string) => void;
  /** Run the transcoding workers in this process (default); off when separate workers do it. */
  workers?: boolean;
}

/** The composition root: config → database → storages → media services → HTTP. */
export async function startApp(config: Config, options: StartOptions = {}): Promise<RunningApp> {
  const log = options.log ?? ((message: string) => console.log(message));
  // A manifest that cannot be read stops the start before anything is opened.
  const persistedOperations = await loadPersistedOperations(config.persistedOperations);
  const open = () => openDatabase({ databaseUrl: config.databaseUrl, embeddedDbDir: config.embeddedDbDir, onQuery: options.onQuery, log });
  let db = await open();
  try {
    const applied = await applyPendingMigrations(db.adapterFactory);
    if (applied.length > 0) log(`applied migrations: ${applied.join(", ")}`);
    if (applied.length > 0 && db.flavour === "embedded") {
      // Migrating grows the embedded database's heap by hundreds of MiB that it never gives
      // back; opened afresh it starts small.
      await db.close();
      db = await open();
    }
    await fs.mkdir(config.mediaRoot, { recursive: true });

    const engine = buildEngine(config, db, log);
    const { services } = engine;
    // What a killed process left mid-transcode goes before this one makes scratch of its own.
    const swept = await engine.scratch.sweep();
    if (swept.length > 0) log(`removed ${swept.length} scratch folder(s) left by stopped processes`);
    const apiKeys = new ApiKeyService(db.prisma);
    // One schema for HTTP and the WebSocket, so both answer the same API.
    const schema = makeExecutableSchema({ typeDefs: await fs.readFile(SCHEMA_FILE, "utf8"), resolvers: resolvers as never });
    const resolveViewer = createViewerResolver(config.auth, (key) => apiKeys.lookup(key));

    const { app, apollo } = await createHttpApp({
      schema,
      services,
      resolveViewer,
      production: config.production,
      limits: config.graphqlLimits,
      introspection: config.introspection,
      maxFiles: config.uploads.maxFiles,
      versionWaitMs: config.versions.waitMs,
      cors: config.cors,
      graphiql: config.graphiql,
      log,
      persistedOperations,
      healthCheck: async () => {
        await db.prisma.$queryRaw`SELECT 1`;
      },
    });

    const server = http.createServer(app);
    const subscriptions = attachSubscriptions({
      server,
      schema,
      services,
      resolveViewer,
      cors: config.cors,
      subscriptions: config.subscriptions,
      limits: config.graphqlLimits,
      production: config.production,
      introspection: config.introspection,
      log,
      persistedOperations,
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, resolve);
    });
    services.deletions.start();
    if (options.workers !== false) for (const pool of engine.workers) pool.start();
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;

    return {
      url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
      server,
      services,
      db,
      subscriptions,
      async close() {
        // WebSocket connections first: the HTTP server's close waits for every socket.
        await subscriptions.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await apollo.stop();
        await engine.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}
