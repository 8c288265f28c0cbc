import { createHash } from "node:crypto";
import { z } from "zod";
import type { MediaKind } from "../db/generated/enums.js";
import { MEDIA_KINDS } from "../db/media-kinds.js";

/** Bumped when the transcoders change in a way that alters their output for the same recipe. */
const ENGINE_VERSION = 1;

export const IMAGE_FITS = ["cover", "contain", "fill", "inside", "outside"] as const;
export const IMAGE_FORMATS = ["webp", "avif", "jpeg", "png"] as const;
export type ImageFit = (typeof IMAGE_FITS)[number];
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

const ImageRecipeSchema = z
  .object({
    type: z.literal("image"),
    width: z.int().min(1).max(16384).optional(),
    height: z.int().min(1).max(16384).optional(),
    fit: z.enum(IMAGE_FITS).default("inside"),
    format: z.enum(IMAGE_FORMATS).default("webp"),
    quality: z.int().min(1).max(100).default(80),
  })
  .strict()
  .refine((r) => r.width !== undefined || r.height !== undefined, { message: "an image recipe needs a width or a height" });

const VideoRecipeSchema = z
  .object({
    type: z.literal("video"),
    container: z.enum(["mp4", "webm"]),
    /** The shorter side at most (720 for "720p"); never upscaled. */
    maxShortSide: z.int().min(16).max(4320).default(720),
    crf: z.int().min(0).max(63).optional(),
    audioBitrateK: z.int().min(16).max(512).default(128),
  })
  .strict();

const AudioRecipeSchema = z
  .object({
    type: z.literal("audio"),
    codec: z.enum(["mp3", "aac", "opus"]),
    bitrateK: z.int().min(16).max(512),
  })
  .strict();

export const RecipeSchema = z.discriminatedUnion("type", [ImageRecipeSchema, VideoRecipeSchema, AudioRecipeSchema]);
export type ImageRecipe = z.infer<typeof ImageRecipeSchema>;
export type VideoRecipe = z.infer<typeof VideoRecipeSchema>;
export type AudioRecipe = z.infer<typeof AudioRecipeSchema>;
export type Recipe = z.infer<typeof RecipeSchema>;

export interface Preset {
  name: string;
  kind: MediaKind;
  /** Made in the background right after upload; otherwise the first time it is asked for. */
  eager: boolean;
  recipe: Recipe;
}

/** What a recipe produces. */
export interface OutputFormat {
  mimeType: string;
  extension: string;
  /** The demuxer that reads it back (to probe audio and video versions). */
  demuxer?: string;
}

const image = (width: number | undefined, height: number | undefined, fit: ImageFit, eager = false): Omit<Preset, "name" | "kind"> => ({
  eager,
  recipe: { type: "image", width, height, fit, format: "webp", quality: 80 },
});

/** The presets every installation starts with; MEDIA_PRESETS changes, adds or removes them. */
export const DEFAULT_PRESETS: Record<MediaKind, Record<string, Omit<Preset, "name" | "kind">>> = {
  IMAGE: {
    thumb: image(200, 200, "cover", true),
    small: image(480, undefined, "inside"),
    medium: image(1024, undefined, "inside"),
    large: image(2048, undefined, "inside"),
  },
  VIDEO: {
    "mp4-720p": { eager: true, recipe: { type: "video", container: "mp4", maxShortSide: 720, crf: 23, audioBitrateK: 128 } },
    "webm-720p": { eager: false, recipe: { type: "video", container: "webm", maxShortSide: 720, crf: 33, audioBitrateK: 96 } },
  },
  AUDIO: {
    "mp3-128k": { eager: false, recipe: { type: "audio", codec: "mp3", bitrateK: 128 } },
    "aac-128k": { eager: false, recipe: { type: "audio", codec: "aac", bitrateK: 128 } },
    "opus-96k": { eager: false, recipe: { type: "audio", codec: "opus", bitrateK: 96 } },
  },
  DOCUMENT: {},
};

const PRESET_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
const KIND_OF_RECIPE: Record<Recipe["type"], MediaKind> = { image: "IMAGE", video: "VIDEO", audio: "AUDIO" };

/**
 * Overrides as configured: per kind, a preset name mapped to fields that change (merged onto the
 * default of that name), a whole new preset, or null to remove it.
 */
export const PresetOverridesSchema = z
  .partialRecord(
    z.enum(MEDIA_KINDS),
    z.record(
      z.string().regex(PRESET_NAME, "preset names are lower-case letters, digits and -, at most 40"),
      z.object({ eager: z.boolean().optional(), recipe: z.record(z.string(), z.unknown()).optional() }).strict().nullable(),
    ),
  )
  .default({});
export type PresetOverrides = z.infer<typeof PresetOverridesSchema>;

/** Every kind's presets: the defaults with the overrides applied, each recipe validated. */
export function resolvePresets(overrides: PresetOverrides = {}): PresetCatalog {
  const presets: Preset[] = [];
  for (const kind of Object.keys(DEFAULT_PRESETS) as MediaKind[]) {
    const names = new Set([...Object.keys(DEFAULT_PRESETS[kind]), ...Object.keys(overrides[kind] ?? {})]);
    for (const name of names) {
      const base = DEFAULT_PRESETS[kind][name];
      const change = overrides[kind]?.[name];
      if (change === null) continue;
      const merged = { ...base?.recipe, ...change?.recipe };
      const parsed = RecipeSchema.safeParse(merged);
      if (!parsed.success) {
        throw new Error(`MEDIA_PRESETS: ${kind} preset "${name}": ${parsed.error.issues.map((i) => `${i.path.join(".") || "recipe"}: ${i.message}`).join("; ")}`);
      }
      if (KIND_OF_RECIPE[parsed.data.type] !== kind) throw new Error(`MEDIA_PRESETS: ${kind} preset "${name}" has a ${parsed.data.type} recipe`);
      presets.push({ name, kind, eager: change?.eager ?? base?.eager ?? false, recipe: parsed.data });
    }
  }
  return new PresetCatalog(presets);
}

export class PresetCatalog {
  constructor(private readonly presets: Preset[]) {}

  all(): readonly Preset[] {
    return this.presets;
  }

  forKind(kind: MediaKind): Preset[] {
    return this.presets.filter((p) => p.kind === kind);
  }

  get(kind: MediaKind, name: string): Preset | undefined {
    return this.presets.find((p) => p.kind === kind && p.name === name);
  }
}

/** A stable digest of a recipe: stored with each version, so a changed recipe shows as stale. */
export function recipeDigest(recipe: Recipe): string {
  let digest = digests.get(recipe);
  if (digest === undefined) {
    const canonical = JSON.stringify({ engine: ENGINE_VERSION, recipe: sortKeys(recipe) });
    digest = createHash("sha256").update(canonical).digest("hex").slice(0, 16);
    digests.set(recipe, digest);
  }
  return digest;
}

/** Presets' recipes live as long as the configuration and are asked for their digest on every request. */
const digests = new WeakMap<Recipe, string>();

function sortKeys(value: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

export function outputFormat(recipe: Recipe): OutputFormat {
  switch (recipe.type) {
    case "image":
      return { webp: { mimeType: "image/webp", extension: "webp" }, avif: { mimeType: "image/avif", extension: "avif" }, jpeg: { mimeType: "image/jpeg", extension: "jpg" }, png: { mimeType: "image/png", extension: "png" } }[recipe.format];
    case "video":
      return recipe.container === "mp4"
        ? { mimeType: "video/mp4", extension: "mp4", demuxer: "mov" }
        : { mimeType: "video/webm", extension: "webm", demuxer: "matroska" };
    case "audio":
      return {
        mp3: { mimeType: "audio/mpeg", extension: "mp3", demuxer: "mp3" },
        aac: { mimeType: "audio/mp4", extension: "m4a", demuxer: "mov" },
        opus: { mimeType: "audio/ogg", extension: "ogg", demuxer: "ogg" },
      }[recipe.codec];
  }
}
