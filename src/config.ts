import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { z } from "zod";
import { checkSetting, commaList, ConfigError, formatIssues, parseJsonSetting } from "./config-parsing.js";
import { StorageSettingsSchema, type StorageSettings } from "./storage/settings.js";
import { validateUploadRoute } from "./storage/routes.js";
import { KindSettingsByKindSchema } from "./media/kinds.js";
import type { AuthOptions } from "./auth/viewer.js";
import { PresetOverridesSchema, resolvePresets, type PresetCatalog } from "./transcode/presets.js";

export { ConfigError };

/** Environment variables → one validated, typed configuration. Every variable is listed in the README. */

const MiB = 1024 * 1024;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const byteSize = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** For the S3_* variables, as they have always been read: an empty value is no value. */
const s3String = z.string().optional().transform((v) => v || undefined);
/** An on/off switch (1, true, yes, on; anything else is off). */
const s3Switch = s3String.transform((v) => (v === undefined ? undefined : /^(1|true|yes|on)$/i.test(v)));
/** A number checked later, by the storage settings' schema, so its message names the option. */
const s3Number = s3String.transform((v) => (v === undefined ? undefined : Number(v)));

const EnvSchema = z.object({
  NODE_ENV: z.preprocess((v) => (v === "" ? undefined : v), z.enum(["development", "production", "test"]).default("development")),
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATA_DIR: z.string().default("./data"),
  MEDIA_ROOT: optionalString,
  MEDIA_URL: z
    .string()
    .default("/media/")
    .refine((v) => v.endsWith("/"), "MEDIA_URL must end with a slash"),
  DATABASE_URL: optionalString.refine(
    (v) => v === undefined || /^postgres(ql)?:\/\//.test(v),
    "DATABASE_URL must be a postgresql:// URL",
  ),
  AUTH_JWT_SECRET: optionalString,
  AUTH_JWKS_URL: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), "AUTH_JWKS_URL must be an http(s) URL"),
  AUTH_JWT_ISSUER: optionalString,
  AUTH_JWT_AUDIENCE: optionalString,
  AUTH_ROLES_CLAIM: z.string().min(1).default("roles"),
  AUTH_ADMIN_ROLE: z.string().min(1).default("admin"),
  LOCAL_OWNER_ID: z.string().min(1).default("local"),
  MAX_UPLOAD_FILES: z.coerce.number().int().positive().default(20),
  MAX_SIZE_IMAGE: byteSize(50 * MiB),
  MAX_SIZE_AUDIO: byteSize(500 * MiB),
  MAX_SIZE_VIDEO: byteSize(4096 * MiB),
  MAX_SIZE_DOCUMENT: byteSize(100 * MiB),
  IMAGE_MAX_PIXELS: z.coerce.number().int().positive().default(100_000_000),
  FFMPEG_PATH: z.string().default("ffmpeg"),
  FFPROBE_PATH: z.string().default("ffprobe"),
  PROBE_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  STORAGE_CONFIG: optionalString,
  /** One backend from the environment when STORAGE_CONFIG is not set: filesystem, memory, database or s3. */
  STORAGE: z.string().default("filesystem"),
  S3_BUCKET: z.string().optional(),
  S3_LOCATION: s3String,
  S3_REGION: s3String,
  S3_ENDPOINT: s3String,
  S3_FORCE_PATH_STYLE: s3Switch,
  S3_ACCESS_KEY_ID: s3String,
  S3_SECRET_ACCESS_KEY: s3String,
  S3_SESSION_TOKEN: s3String,
  S3_QUERYSTRING_AUTH: s3Switch,
  S3_QUERYSTRING_EXPIRE: s3Number,
  S3_CUSTOM_DOMAIN: s3String,
  S3_FILE_OVERWRITE: s3Switch,
  S3_SERVE: s3String,
  S3_OBJECT_PARAMETERS: s3String,
  RELATION_MODELS: optionalString,
  MEDIA_KIND_RULES: optionalString,
  GRAPHQL_INTROSPECTION: z.enum(["true", "false", ""]).optional(),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).default(12),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(30),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(10).default(20000),
  MEDIA_PRESETS: optionalString,
  MEDIA_TRANSFORMS: z.enum(["any", "presets-only"]).default("any"),
  TRANSFORM_MAX_SIZE: z.coerce.number().int().min(16).max(16384).default(4096),
  VIDEO_POSTER_POSITIONS: z.string().default("0.1,0.5,0.9"),
  TRANSCODE_TIMEOUT_MS: z.coerce.number().int().positive().default(2 * 60 * 60_000),
  IMAGE_TIMEOUT_S: z.coerce.number().int().positive().default(60),
  JOBS_IMAGE_CONCURRENCY: z.coerce.number().int().min(0).default(() => availableParallelism()),
  JOBS_AV_CONCURRENCY: z.coerce.number().int().min(0).default(1),
  JOBS_POLL_MS: z.coerce.number().int().min(50).default(1000),
  JOBS_LEASE_MS: z.coerce.number().int().min(1000).default(60_000),
  VERSION_WAIT_MS: z.coerce.number().int().min(0).default(15_000),
  MEDIA_SIGNING_KEY: optionalString.refine((v) => v === undefined || v.length >= 32, "MEDIA_SIGNING_KEY must be at least 32 characters"),
  PUBLIC_URL: optionalString.refine((v) => v === undefined || /^https?:\/\/[^/]+/.test(v), "PUBLIC_URL must be an http(s) URL"),
  CORS_ORIGINS: z.string().default(""),
  CORS_CREDENTIALS: z.enum(["true", "false", ""]).optional(),
  GRAPHIQL: z.enum(["true", "false", ""]).optional(),
  SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).default(50),
  WS_CONNECTIONS_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  WS_KEEPALIVE_MS: z.coerce.number().int().min(1000).default(12_000),
  PERSISTED_OPERATIONS: optionalString,
  PERSISTED_OPERATIONS_ONLY: z.enum(["true", "false", ""]).optional(),
});

type Env = z.output<typeof EnvSchema>;

/** The checked variables in the shape the service uses; sub-settings that fail throw a ConfigError. */
const ConfigSchema = EnvSchema.transform((e: Env) => {
  const dataDir = path.resolve(e.DATA_DIR);
  return {
    env: e.NODE_ENV,
    production: e.NODE_ENV === "production",
    host: e.HOST,
    port: e.PORT,
    dataDir,
    /** Directory of the embedded database; unused when `databaseUrl` is set. */
    embeddedDbDir: path.join(dataDir, "db"),
    databaseUrl: e.DATABASE_URL,
    mediaRoot: path.resolve(e.MEDIA_ROOT ?? path.join(dataDir, "media")),
    mediaUrl: e.MEDIA_URL,
    auth: {
      jwtSecret: e.AUTH_JWT_SECRET,
      jwksUrl: e.AUTH_JWKS_URL,
      issuer: e.AUTH_JWT_ISSUER,
      audience: e.AUTH_JWT_AUDIENCE,
      rolesClaim: e.AUTH_ROLES_CLAIM,
      adminRole: e.AUTH_ADMIN_ROLE,
      localOwnerId: e.LOCAL_OWNER_ID,
    } satisfies AuthOptions,
    uploads: { maxFiles: e.MAX_UPLOAD_FILES },
    kindLimits: {
      IMAGE: e.MAX_SIZE_IMAGE,
      AUDIO: e.MAX_SIZE_AUDIO,
      VIDEO: e.MAX_SIZE_VIDEO,
      DOCUMENT: e.MAX_SIZE_DOCUMENT,
    },
    image: { maxPixels: e.IMAGE_MAX_PIXELS },
    /** Per-kind formats and limits beyond size (MEDIA_KIND_RULES). */
    kindRules: e.MEDIA_KIND_RULES ? parseJsonSetting("MEDIA_KIND_RULES", e.MEDIA_KIND_RULES, KindSettingsByKindSchema) : {},
    ffmpeg: { ffmpegPath: e.FFMPEG_PATH, ffprobePath: e.FFPROBE_PATH, probeTimeoutMs: e.PROBE_TIMEOUT_MS },
    storage: loadStorageSettings(e),
    versions: {
      presets: parsePresets(e.MEDIA_PRESETS),
      transforms: e.MEDIA_TRANSFORMS,
      maxTransformSize: e.TRANSFORM_MAX_SIZE,
      /** Fractions of a video's duration where poster frames are taken; empty for none. */
      posterPositions: parsePositions(e.VIDEO_POSTER_POSITIONS),
      transcodeTimeoutMs: e.TRANSCODE_TIMEOUT_MS,
      imageTimeoutSeconds: e.IMAGE_TIMEOUT_S,
      /** How long the media route waits for an image version before answering 202. */
      waitMs: e.VERSION_WAIT_MS,
    },
    jobs: { imageConcurrency: e.JOBS_IMAGE_CONCURRENCY, avConcurrency: e.JOBS_AV_CONCURRENCY, pollMs: e.JOBS_POLL_MS, leaseMs: e.JOBS_LEASE_MS },
    /** Schema introspection: on in development, off in production unless asked for. */
    introspection: e.GRAPHQL_INTROSPECTION ? e.GRAPHQL_INTROSPECTION === "true" : e.NODE_ENV !== "production",
    /** Validation limits every operation must keep within. */
    graphqlLimits: { maxDepth: e.GRAPHQL_MAX_DEPTH, maxAliases: e.GRAPHQL_MAX_ALIASES, maxCost: e.GRAPHQL_MAX_COST },
    /** Models shelves may be attached to ("app_label.model_name" or "app_label.*"); empty for any. */
    relationModels: commaList(e.RELATION_MODELS),
    /** Key for signed media links; without one a key is generated once and kept in DATA_DIR. */
    signingKey: e.MEDIA_SIGNING_KEY,
    /** Origin the service is reached at (e.g. https://api.example.com), for absolute media URLs. */
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ""),
    /** Browser origins allowed to call the service (exact, `https://*.example.com`, or `*`). */
    cors: parseCors(e.CORS_ORIGINS, e.CORS_CREDENTIALS),
    /** The in-browser IDE at /graphiql (and GET /graphql for browsers). */
    graphiql: e.GRAPHIQL ? e.GRAPHIQL === "true" : e.NODE_ENV !== "production",
    subscriptions: {
      perConnection: e.SUBSCRIPTIONS_PER_CONNECTION,
      connectionsPerMinute: e.WS_CONNECTIONS_PER_MINUTE,
      keepAliveMs: e.WS_KEEPALIVE_MS,
    },
    /** A manifest of persisted operations (hash → document); with `only`, nothing else runs. */
    persistedOperations: {
      manifest: e.PERSISTED_OPERATIONS ? path.resolve(e.PERSISTED_OPERATIONS) : undefined,
      only: e.PERSISTED_OPERATIONS_ONLY === "true",
    },
  };
});

export type Config = z.output<typeof ConfigSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`Invalid configuration:\n${formatIssues(parsed.error.issues)}`);
  return parsed.data;
}

/**
 * CORS_ORIGINS: comma-separated exact origins (https://app.example.com), wildcard subdomains
 * (https://*.example.com) or `*`. Credentials (cookies, Authorization from a credentialed fetch)
 * are allowed unless CORS_CREDENTIALS=false; `*` cannot be combined with them.
 */
function parseCors(list: string, credentials: string | undefined): { origins: string[]; credentials: boolean } {
  const origins = commaList(list);
  for (const origin of origins) {
    if (origin === "*") continue;
    if (!/^https?:\/\/(\*\.)?[a-z0-9.-]+(:\d+)?$/i.test(origin)) {
      throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin such as https://app.example.com or https://*.example.com`);
    }
  }
  const allowCredentials = credentials ? credentials === "true" : !origins.includes("*");
  if (allowCredentials && origins.includes("*")) throw new ConfigError("CORS_ORIGINS: * cannot be used with CORS_CREDENTIALS=true");
  return { origins, credentials: allowCredentials };
}

/** MEDIA_PRESETS: JSON such as {"IMAGE": {"thumb": {"recipe": {"width": 150}}, "square": {...}}, "AUDIO": {"opus-96k": null}}. */
function parsePresets(json: string | undefined): PresetCatalog {
  const overrides = json ? parseJsonSetting("MEDIA_PRESETS", json, PresetOverridesSchema) : {};
  try {
    return resolvePresets(overrides);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** VIDEO_POSTER_POSITIONS: fractions of the duration, "0.1,0.5,0.9"; empty for no poster frames. */
function parsePositions(list: string): number[] {
  const positions = commaList(list).map(Number);
  if (positions.some((p) => !(p >= 0 && p < 1)) || positions.length > 10) {
    throw new ConfigError("VIDEO_POSTER_POSITIONS must be at most 10 fractions from 0 to below 1, such as 0.1,0.5,0.9");
  }
  return positions;
}

/** Storage from a JSON file (several aliases, routing, upload routes) or, for one backend, from the environment. */
function loadStorageSettings(e: Env): StorageSettings {
  const file = e.STORAGE_CONFIG;
  const name = `storage configuration${file ? ` in ${file}` : ""}`;
  let settings: StorageSettings;
  if (file) {
    let text: string;
    try {
      text = readFileSync(path.resolve(file), "utf8");
    } catch (err) {
      throw new ConfigError(`Invalid ${name}: ${(err as Error).message}`);
    }
    settings = parseJsonSetting(name, text, StorageSettingsSchema);
  } else {
    settings = checkSetting(name, singleBackendFromEnv(e), StorageSettingsSchema);
  }
  try {
    Object.values(settings.uploadRoutes).forEach(validateUploadRoute);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return settings;
}

/** STORAGE and the S3_* variables: the common case of one backend under the alias "default". */
function singleBackendFromEnv(e: Env): unknown {
  if (e.STORAGE !== "s3") return { storages: { default: { backend: e.STORAGE, options: {} } } };
  const credentials =
    e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
      ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY, sessionToken: e.S3_SESSION_TOKEN }
      : undefined;
  const options = Object.fromEntries(
    Object.entries({
      bucket: e.S3_BUCKET,
      location: e.S3_LOCATION,
      region: e.S3_REGION,
      endpoint: e.S3_ENDPOINT,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      credentials,
      querystringAuth: e.S3_QUERYSTRING_AUTH,
      querystringExpire: e.S3_QUERYSTRING_EXPIRE,
      customDomain: e.S3_CUSTOM_DOMAIN,
      fileOverwrite: e.S3_FILE_OVERWRITE,
      serve: e.S3_SERVE,
      objectParameters: e.S3_OBJECT_PARAMETERS ? parseJsonSetting("S3_OBJECT_PARAMETERS", e.S3_OBJECT_PARAMETERS, z.unknown()) : undefined,
    }).filter(([, v]) => v !== undefined),
  );
  return { storages: { default: { backend: "s3", options } } };
}
