import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { storageSettingsFromEnv, StorageSettingsSchema, type StorageSettings } from "./storage/settings.js";
import { validateUploadRoute } from "./storage/routes.js";
import type { KindSettings } from "./media/kinds.js";
import type { AuthOptions } from "./auth/viewer.js";
import { PresetOverridesSchema, resolvePresets, type PresetCatalog } from "./transcode/presets.js";

/** Environment variables → one validated, typed configuration. Every variable is listed in the README. */

const MiB = 1024 * 1024;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const byteSize = (fallback: number) => z.coerce.number().int().positive().default(fallback);

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
  JOBS_IMAGE_CONCURRENCY: z.coerce.number().int().min(0).default(2),
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

export type Config = {
  env: "development" | "production" | "test";
  production: boolean;
  host: string;
  port: number;
  dataDir: string;
  /** Directory of the embedded database; unused when `databaseUrl` is set. */
  embeddedDbDir: string;
  databaseUrl?: string;
  mediaRoot: string;
  mediaUrl: string;
  auth: AuthOptions;
  uploads: { maxFiles: number };
  kindLimits: { IMAGE: number; AUDIO: number; VIDEO: number; DOCUMENT: number };
  /** Per-kind formats and limits beyond size (MEDIA_KIND_RULES). */
  kindRules: Partial<Record<"IMAGE" | "AUDIO" | "VIDEO" | "DOCUMENT", KindSettings>>;
  image: { maxPixels: number };
  ffmpeg: { ffmpegPath: string; ffprobePath: string; probeTimeoutMs: number };
  versions: {
    presets: PresetCatalog;
    transforms: "any" | "presets-only";
    maxTransformSize: number;
    /** Fractions of a video's duration where poster frames are taken; empty for none. */
    posterPositions: number[];
    transcodeTimeoutMs: number;
    imageTimeoutSeconds: number;
    /** How long the media route waits for an image version before answering 202. */
    waitMs: number;
  };
  jobs: { imageConcurrency: number; avConcurrency: number; pollMs: number; leaseMs: number };
  storage: StorageSettings;
  /** Models shelves may be attached to ("app_label.model_name" or "app_label.*"); empty for any. */
  relationModels: string[];
  /** Validation limits every operation must keep within. */
  graphqlLimits: { maxDepth: number; maxAliases: number; maxCost: number };
  /** Schema introspection: on in development, off in production unless asked for. */
  introspection: boolean;
  /** Key for signed media links; without one a key is generated once and kept in DATA_DIR. */
  signingKey?: string;
  /** Origin the service is reached at (e.g. https://api.example.com), for absolute media URLs. */
  publicUrl?: string;
  /** Browser origins allowed to call the service (exact, `https://*.example.com`, or `*`). */
  cors: { origins: string[]; credentials: boolean };
  /** The in-browser IDE at /graphiql (and GET /graphql for browsers). */
  graphiql: boolean;
  subscriptions: { perConnection: number; connectionsPerMinute: number; keepAliveMs: number };
  /** A manifest of persisted operations (hash → document); with `only`, nothing else runs. */
  persistedOperations: { manifest?: string; only: boolean };
};

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  return {
    env: e.NODE_ENV,
    production: e.NODE_ENV === "production",
    host: e.HOST,
    port: e.PORT,
    dataDir,
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
    },
    uploads: { maxFiles: e.MAX_UPLOAD_FILES },
    kindLimits: {
      IMAGE: e.MAX_SIZE_IMAGE,
      AUDIO: e.MAX_SIZE_AUDIO,
      VIDEO: e.MAX_SIZE_VIDEO,
      DOCUMENT: e.MAX_SIZE_DOCUMENT,
    },
    image: { maxPixels: e.IMAGE_MAX_PIXELS },
    kindRules: parseKindRules(e.MEDIA_KIND_RULES),
    ffmpeg: { ffmpegPath: e.FFMPEG_PATH, ffprobePath: e.FFPROBE_PATH, probeTimeoutMs: e.PROBE_TIMEOUT_MS },
    storage: loadStorageSettings(env, e.STORAGE_CONFIG),
    versions: {
      presets: parsePresets(e.MEDIA_PRESETS),
      transforms: e.MEDIA_TRANSFORMS,
      maxTransformSize: e.TRANSFORM_MAX_SIZE,
      posterPositions: parsePositions(e.VIDEO_POSTER_POSITIONS),
      transcodeTimeoutMs: e.TRANSCODE_TIMEOUT_MS,
      imageTimeoutSeconds: e.IMAGE_TIMEOUT_S,
      waitMs: e.VERSION_WAIT_MS,
    },
    jobs: { imageConcurrency: e.JOBS_IMAGE_CONCURRENCY, avConcurrency: e.JOBS_AV_CONCURRENCY, pollMs: e.JOBS_POLL_MS, leaseMs: e.JOBS_LEASE_MS },
    introspection: e.GRAPHQL_INTROSPECTION ? e.GRAPHQL_INTROSPECTION === "true" : e.NODE_ENV !== "production",
    graphqlLimits: { maxDepth: e.GRAPHQL_MAX_DEPTH, maxAliases: e.GRAPHQL_MAX_ALIASES, maxCost: e.GRAPHQL_MAX_COST },
    relationModels: (e.RELATION_MODELS ?? "").split(",").map((m) => m.trim()).filter(Boolean),
    signingKey: e.MEDIA_SIGNING_KEY,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ""),
    cors: parseCors(e.CORS_ORIGINS, e.CORS_CREDENTIALS),
    graphiql: e.GRAPHIQL ? e.GRAPHIQL === "true" : e.NODE_ENV !== "production",
    subscriptions: {
      perConnection: e.SUBSCRIPTIONS_PER_CONNECTION,
      connectionsPerMinute: e.WS_CONNECTIONS_PER_MINUTE,
      keepAliveMs: e.WS_KEEPALIVE_MS,
    },
    persistedOperations: {
      manifest: e.PERSISTED_OPERATIONS ? path.resolve(e.PERSISTED_OPERATIONS) : undefined,
      only: e.PERSISTED_OPERATIONS_ONLY === "true",
    },
  };
}

/**
 * CORS_ORIGINS: comma-separated exact origins (https://app.example.com), wildcard subdomains
 * (https://*.example.com) or `*`. Credentials (cookies, Authorization from a credentialed fetch)
 * are allowed unless CORS_CREDENTIALS=false; `*` cannot be combined with them.
 */
function parseCors(list: string, credentials: string | undefined): Config["cors"] {
  const origins = list.split(",").map((o) => o.trim()).filter(Boolean);
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

const positive = z.number().int().positive().optional();
const KindRulesSchema = z.partialRecord(
  z.enum(["IMAGE", "AUDIO", "VIDEO", "DOCUMENT"]),
  z
    .object({
      formats: z.array(z.string()).optional(),
      minWidth: positive,
      minHeight: positive,
      maxWidth: positive,
      maxHeight: positive,
      maxPixels: positive,
      maxDurationMs: positive,
      maxFilesPerUpload: positive,
    })
    .strict(),
);

/** MEDIA_KIND_RULES: JSON such as {"IMAGE": {"maxWidth": 8000, "formats": ["jpg", "png"]}}. */
function parseKindRules(json: string | undefined): Config["kindRules"] {
  if (!json) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`MEDIA_KIND_RULES is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = KindRulesSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`Invalid MEDIA_KIND_RULES:\n${parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n")}`);
  }
  return parsed.data;
}

/** MEDIA_PRESETS: JSON such as {"IMAGE": {"thumb": {"recipe": {"width": 150}}, "square": {...}}, "AUDIO": {"opus-96k": null}}. */
function parsePresets(json: string | undefined): PresetCatalog {
  let raw: unknown = {};
  try {
    if (json) raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`MEDIA_PRESETS is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = PresetOverridesSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`Invalid MEDIA_PRESETS:\n${parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n")}`);
  }
  try {
    return resolvePresets(parsed.data);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** VIDEO_POSTER_POSITIONS: fractions of the duration, "0.1,0.5,0.9"; empty for no poster frames. */
function parsePositions(list: string): number[] {
  const positions = list.split(",").map((p) => p.trim()).filter(Boolean).map(Number);
  if (positions.some((p) => !(p >= 0 && p < 1)) || positions.length > 10) {
    throw new ConfigError("VIDEO_POSTER_POSITIONS must be at most 10 fractions from 0 to below 1, such as 0.1,0.5,0.9");
  }
  return positions;
}

/** Storage from a JSON file (several aliases, routing, upload routes) or, for one backend, from the environment. */
function loadStorageSettings(env: NodeJS.ProcessEnv, file: string | undefined): StorageSettings {
  let raw: unknown;
  try {
    raw = file ? JSON.parse(readFileSync(path.resolve(file), "utf8")) : storageSettingsFromEnv(env);
  } catch (err) {
    throw new ConfigError(`Invalid storage configuration${file ? ` in ${file}` : ""}: ${(err as Error).message}`);
  }
  const parsed = StorageSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(storage)"}: ${i.message}`);
    throw new ConfigError(`Invalid storage configuration${file ? ` in ${file}` : ""}:\n${lines.join("\n")}`);
  }
  try {
    Object.values(parsed.data.uploadRoutes).forEach(validateUploadRoute);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return parsed.data;
}
