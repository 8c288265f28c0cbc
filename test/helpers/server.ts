import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { buffer } from "node:stream/consumers";
import { startApp, type RunningApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { S3_CREDENTIALS, startS3Server, type S3Server } from "./s3.js";

export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export type DatabaseFlavour = "pglite" | "postgresql";

let postgresReachable: Promise<boolean> | undefined;

/** PGlite always; PostgreSQL too whenever a server answers (CI has one). */
export async function databaseFlavours(): Promise<DatabaseFlavour[]> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      return false;
    }
  })();
  if (await postgresReachable) return ["pglite", "postgresql"];
  // CI has a server: a run there that silently tested PGlite alone would hide a broken half.
  if (process.env.CI) throw new Error(`CI is set but no PostgreSQL answers at ${POSTGRES_ADMIN_URL}`);
  return ["pglite"];
}

export type StorageFlavour = "filesystem" | "s3" | "database";

export interface Setup {
  db: DatabaseFlavour;
  storage: StorageFlavour;
  label: string;
}

/**
 * The setups the core tests run on: local files on every database, and S3 (a real S3 server on
 * loopback, served through the media route) and database storage as the default storage.
 */
export async function coreSetups(): Promise<Setup[]> {
  const dbs = await databaseFlavours();
  return [
    ...dbs.map((db) => ({ db, storage: "filesystem" as const, label: db })),
    { db: "pglite", storage: "s3", label: "pglite, S3 storage" },
    { db: dbs.at(-1)!, storage: "database", label: `${dbs.at(-1)}, database storage` },
  ];
}

export interface TestServer {
  url: string;
  app: RunningApp;
  /** A directory of this server's own that holds its data directory and nothing else. */
  sandbox: string;
  dataDir: string;
  mediaRoot: string;
  /** SQL statements sent since the last reset. */
  queries: string[];
  logs: string[];
  databaseUrl?: string;
  /** The bytes stored under `name` in the default storage, whatever the backend. */
  readStored(name: string): Promise<Buffer>;
  storedExists(name: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Settings under which uploads make no versions by themselves (nothing runs in the background). */
export const NO_EAGER_VERSIONS = {
  MEDIA_PRESETS: JSON.stringify({ IMAGE: { thumb: { eager: false } }, VIDEO: { "mp4-720p": { eager: false } } }),
  VIDEO_POSTER_POSITIONS: "",
};

/** The service's own defaults: eager versions and poster frames, as installed. */
export const DEFAULT_VERSIONS = { MEDIA_PRESETS: "", VIDEO_POSTER_POSITIONS: "0.1,0.5,0.9" };

/** Starts the real service on a free port with its own data directory and database. */
export async function startTestServer(
  flavour: DatabaseFlavour,
  env: Record<string, string> = {},
  storage: StorageFlavour = "filesystem",
): Promise<TestServer> {
  const sandbox = await fs.mkdtemp(path.join(os.tmpdir(), "media-test-"));
  const dataDir = path.join(sandbox, "data");
  let databaseUrl: string | undefined;
  let dropDatabase = async () => {};
  if (flavour === "postgresql") {
    const dbName = `media_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    await adminQuery(`CREATE DATABASE ${dbName}`);
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
    dropDatabase = () => adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
  let stopStorage = async () => {};
  const storageEnv: Record<string, string> = {};
  if (storage === "database") storageEnv.STORAGE = "database";
  if (storage === "s3") {
    const s3 = await startS3Server();
    stopStorage = () => s3.close();
    Object.assign(storageEnv, s3Env(s3, "proxy"));
  }
  const config = loadConfig({
    NODE_ENV: "test",
    PORT: "0",
    DATA_DIR: dataDir,
    // Tests of other features keep their files to the originals; the version tests turn these back on.
    ...NO_EAGER_VERSIONS,
    // Work queued here is started at once; polling for other processes' work would only add
    // statements to the tests that count them.
    JOBS_POLL_MS: "60000",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...storageEnv,
    ...env,
  });
  const queries: string[] = [];
  const logs: string[] = [];
  const app = await startApp(config, { log: (m) => logs.push(m), onQuery: (sql) => queries.push(sql) }).catch(async (err: unknown) => {
    // A service that refuses to start leaves nothing behind either.
    await stopStorage();
    await dropDatabase();
    await fs.rm(sandbox, { recursive: true, force: true });
    throw err;
  });
  return {
    url: app.url,
    app,
    sandbox,
    dataDir,
    mediaRoot: config.mediaRoot,
    queries,
    logs,
    databaseUrl,
    async readStored(name) {
      return buffer(await app.services.storages.get("default").open(name));
    },
    storedExists(name) {
      return app.services.storages.get("default").exists(name);
    },
    async close() {
      await app.close();
      await stopStorage();
      await dropDatabase();
      await fs.rm(sandbox, { recursive: true, force: true });
    },
  };
}

/** The environment that makes the service keep its files in `s3`. */
export function s3Env(s3: S3Server, serve: "direct" | "redirect" | "proxy"): Record<string, string> {
  return {
    STORAGE: "s3",
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    S3_LOCATION: "media",
    S3_SERVE: serve,
  };
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Every regular file under `dir`, as paths relative to it; none when `dir` does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}
