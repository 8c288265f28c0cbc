import { z } from "zod";

/**
 * What the storage layer is told: backends under aliases (Django's STORAGES), which alias holds
 * which kind's originals and versions, and where in a backend each kind's uploads go.
 */

const served = {
  /** URL prefix under which the service's media route serves this backend. */
  baseUrl: z.string().optional(),
  /** Sign every URL (private files): links expire after `querystringExpire` seconds. */
  querystringAuth: z.boolean().optional(),
  querystringExpire: z.number().int().positive().optional(),
};

export const BackendSettingsSchema = z.discriminatedUnion("backend", [
  z.object({
    backend: z.literal("filesystem"),
    options: z
      .object({
        location: z.string().optional(),
        filePermissionsMode: z.number().int().optional(),
        directoryPermissionsMode: z.number().int().optional(),
        allowOverwrite: z.boolean().optional(),
        normalizeImageExtensions: z.boolean().optional(),
        ...served,
      })
      .strict()
      .default({}),
  }),
  z.object({
    backend: z.literal("memory"),
    options: z.object({ allowOverwrite: z.boolean().optional(), normalizeImageExtensions: z.boolean().optional(), ...served }).strict().default({}),
  }),
  z.object({
    backend: z.literal("database"),
    options: z
      .object({ chunkSize: z.number().int().min(1024).optional(), allowOverwrite: z.boolean().optional(), normalizeImageExtensions: z.boolean().optional(), ...served })
      .strict()
      .default({}),
  }),
  z.object({
    backend: z.literal("s3"),
    options: z
      .object({
        bucket: z.string().min(1),
        location: z.string().optional(),
        region: z.string().optional(),
        endpoint: z.string().url().optional(),
        forcePathStyle: z.boolean().optional(),
        credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string().optional() }).optional(),
        objectParameters: z
          .object({
            CacheControl: z.string(),
            ContentDisposition: z.string(),
            ContentEncoding: z.string(),
            ContentLanguage: z.string(),
            ServerSideEncryption: z.string(),
            SSEKMSKeyId: z.string(),
            StorageClass: z.string(),
            ACL: z.string(),
            Metadata: z.record(z.string(), z.string()),
            Tagging: z.string(),
          })
          .partial()
          .strict()
          .optional(),
        querystringAuth: z.boolean().optional(),
        querystringExpire: z.number().int().positive().optional(),
        customDomain: z.string().optional(),
        fileOverwrite: z.boolean().optional(),
        partSize: z.number().int().min(5 * 1024 * 1024).optional(),
        queueSize: z.number().int().min(1).max(64).optional(),
        normalizeImageExtensions: z.boolean().optional(),
        /** How clients get the bytes: straight from the store (presigned or custom-domain URLs),
         * through the service's media route answering with a redirect, or streamed by it. */
        serve: z.enum(["direct", "redirect", "proxy"]).optional(),
        baseUrl: z.string().optional(),
      })
      .strict(),
  }),
]);

export type BackendSettings = z.infer<typeof BackendSettingsSchema>;

const ROLE = z.object({ original: z.string().optional(), version: z.string().optional() }).strict();

export const StorageSettingsSchema = z
  .object({
    storages: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/, "aliases are lower-case letters, digits, - and _"), BackendSettingsSchema),
    /** Per kind (or "*" for every kind): the alias for originals and for versions. */
    routing: z.record(z.string(), ROLE).default({}),
    /** Per kind (or "*"): the upload route template. */
    uploadRoutes: z.record(z.string(), z.string()).default({}),
  })
  .strict()
  .refine((s) => "default" in s.storages, { message: "a storage under the alias \"default\" is required" })
  .superRefine((s, ctx) => {
    for (const [kind, route] of Object.entries(s.routing)) {
      for (const alias of [route.original, route.version]) {
        if (alias && !(alias in s.storages)) ctx.addIssue({ code: "custom", message: `routing.${kind} names the unknown storage ${JSON.stringify(alias)}` });
      }
    }
  });

export type StorageSettings = z.infer<typeof StorageSettingsSchema>;
