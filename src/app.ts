import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { ApiKeyService } from "./auth/apikeys.js";
import { createViewerResolver } from "./auth/viewer.js";
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./db/client.js";
import { applyPendingMigrations } from "./db/migrate.js";
import { resolvers } from "./graphql/resolvers/index.js";
import { createHttpApp } from "./http/server.js";
import { DeletionQueue } from "./media/deletions.js";
import { KindRegistry } from "./media/kinds.js";
import { ShelfListing } from "./media/listing.js";
import type { Services } from "./media/services.js";
import { RelationService } from "./media/relations.js";
import { ShelfService } from "./media/shelves.js";
import { openStorages } from "./storage/registry.js";

const SCHEMA_FILE = fileURLToPath(new URL("../schema.graphql", import.meta.url));

export interface RunningApp {
  url: string;
  server: http.Server;
  services: Services;
  db: Database;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: (message: string) => void;
  /** Called for every SQL statement (tests count them). */
  onQuery?: (sql: string) => void;
}

/** The composition root: config → database → storages → media services → HTTP. */
export async function startApp(config: Config, options: StartOptions = {}): Promise<RunningApp> {
  const log = options.log ?? ((message: string) => console.log(message));
  const db = await openDatabase({ databaseUrl: config.databaseUrl, embeddedDbDir: config.embeddedDbDir, onQuery: options.onQuery });
  try {
    const applied = await applyPendingMigrations(db.adapterFactory);
    if (applied.length > 0) log(`applied migrations: ${applied.join(", ")}`);
    await fs.mkdir(config.mediaRoot, { recursive: true });

    const storages = openStorages({ ...config, settings: config.storage, prisma: db.prisma });
    // The service-wide pixel cap applies to images whatever the kind's own rule says.
    const imageRules = config.kindRules.IMAGE ?? {};
    const kinds = new KindRegistry(config.kindLimits, {
      ...config.kindRules,
      IMAGE: { ...imageRules, maxPixels: Math.min(imageRules.maxPixels ?? Infinity, config.image.maxPixels) },
    });
    const deletions = new DeletionQueue(db.prisma, storages, { log });
    const relations = new RelationService(db.prisma, config.relationModels);
    const shelves = new ShelfService({
      prisma: db.prisma,
      storages,
      kinds,
      deletions,
      relations,
      staging: {
        image: config.image,
        ffprobe: { ffprobePath: config.ffmpeg.ffprobePath, timeoutMs: config.ffmpeg.probeTimeoutMs },
      },
    });
    const apiKeys = new ApiKeyService(db.prisma);
    const listing = new ShelfListing(db.prisma, relations);
    const services: Services = { storages, kinds, shelves, relations, listing, deletions };

    const { app, apollo } = await createHttpApp({
      typeDefs: await fs.readFile(SCHEMA_FILE, "utf8"),
      resolvers,
      services,
      resolveViewer: createViewerResolver(config.auth, (key) => apiKeys.lookup(key)),
      production: config.production,
      limits: config.graphqlLimits,
      introspection: config.introspection,
      maxFiles: config.uploads.maxFiles,
      log,
      healthCheck: async () => {
        await db.prisma.$queryRaw`SELECT 1`;
      },
    });

    const server = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, resolve);
    });
    deletions.start();
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;

    return {
      url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
      server,
      services,
      db,
      async close() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await apollo.stop();
        await deletions.stop();
        storages.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}
