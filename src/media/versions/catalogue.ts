import type { MediaFile } from "../../db/generated/client.js";
import type { MediaKind } from "../../db/generated/enums.js";
import type { QueueName } from "../../jobs/queue.js";
import {
  IMAGE_FITS,
  IMAGE_FORMATS,
  outputFormat,
  recipeDigest,
  type ImageFit,
  type ImageFormat,
  type ImageRecipe,
  type PresetCatalog,
  type Recipe,
} from "../../transcode/presets.js";
import { MediaError } from "../../errors.js";

export interface TransformInput {
  width?: number | null;
  height?: number | null;
  fit?: ImageFit | null;
  format?: ImageFormat | null;
  quality?: number | null;
}

export interface TransformSettings {
  /** "any" allows ad-hoc image transforms; "presets-only" allows presets alone. */
  transforms: "any" | "presets-only";
  /** Largest width or height a transform may ask for. */
  maxTransformSize: number;
}

/** What one version is: its key among the shelf's files and the recipe that makes it. */
export interface VersionSpec {
  variant: string;
  preset: string | null;
  recipe: Recipe;
}

/** Variants of ad-hoc transforms start with this; presets' names cannot (see PRESET_NAME). */
export const TRANSFORM_PREFIX = "t-";

/** The queue a kind's versions are made on: long audio and video work never holds up images. */
export function queueFor(kind: MediaKind): QueueName {
  return kind === "IMAGE" ? "image" : "av";
}

/**
 * Which versions a shelf can have and what each is: presets by name, ad-hoc transforms keyed by
 * their normalised input, and whether a made version is stale. Pure: it reads nothing and
 * writes nothing, so every question about recipes is answered the same everywhere.
 */
export class VersionCatalogue {
  constructor(
    private readonly presets: PresetCatalog,
    private readonly settings: TransformSettings,
  ) {}

  /** A kind's presets as clients see them. */
  presetsOf(kind: MediaKind): Array<{ name: string; eager: boolean; mimeType: string }> {
    return this.presets.forKind(kind).map((p) => ({ name: p.name, eager: p.eager, mimeType: outputFormat(p.recipe).mimeType }));
  }

  /** The presets made right after upload. */
  eagerSpecs(kind: MediaKind): VersionSpec[] {
    return this.presets.forKind(kind).filter((p) => p.eager).map((p) => ({ variant: p.name, preset: p.name, recipe: p.recipe }));
  }

  /** A preset's version, or undefined when the kind has no such preset. */
  presetSpec(kind: MediaKind, presetName: string): VersionSpec | undefined {
    const preset = this.presets.get(kind, presetName);
    return preset && { variant: preset.name, preset: preset.name, recipe: preset.recipe };
  }

  /** A preset's version; an unknown name is refused, naming the kind's presets. */
  requirePreset(kind: MediaKind, presetName: string): VersionSpec {
    const spec = this.presetSpec(kind, presetName);
    if (spec) return spec;
    const names = this.presets.forKind(kind).map((p) => p.name);
    throw new MediaError(
      "BAD_USER_INPUT",
      names.length > 0
        ? `${kind} has no preset ${JSON.stringify(presetName)}; its presets are ${names.join(", ")}`
        : `${kind} shelves have no presets`,
    );
  }

  /**
   * The preset's version among files already read (a list page reads every shelf's files), when
   * it is there and current; otherwise undefined.
   */
  currentIn(files: readonly MediaFile[], kind: MediaKind, presetName: string): MediaFile | undefined {
    const preset = this.presets.get(kind, presetName);
    const file = preset && files.find((f) => f.variant === preset.name);
    return file && file.recipe === recipeDigest(preset.recipe) ? file : undefined;
  }

  /** Whether a version was made with a recipe other than its preset's current one. */
  isStale(file: Pick<MediaFile, "role" | "preset" | "recipe">, kind: MediaKind): boolean {
    if (file.role !== "VERSION" || !file.preset || !file.recipe) return false;
    const preset = this.presets.get(kind, file.preset);
    return preset !== undefined && recipeDigest(preset.recipe) !== file.recipe;
  }

  /**
   * An ad-hoc image version, keyed by a digest of the normalised input. A side asked for beyond
   * the original's is the original's (nothing is enlarged), so such requests share one version.
   */
  transformSpec(kind: MediaKind, input: TransformInput, original: Pick<MediaFile, "width" | "height"> | undefined): VersionSpec {
    if (this.settings.transforms === "presets-only") {
      const names = this.presets.forKind(kind).map((p) => p.name).join(", ");
      throw new MediaError("BAD_USER_INPUT", `Ad-hoc transforms are turned off here; ask for a preset with version(preset): ${names}`);
    }
    const recipe = this.normalizeTransform(input);
    if (recipe.height === undefined && original?.width) recipe.width = Math.min(recipe.width!, original.width);
    if (recipe.width === undefined && original?.height) recipe.height = Math.min(recipe.height!, original.height);
    return { variant: `${TRANSFORM_PREFIX}${recipeDigest(recipe)}`, preset: null, recipe };
  }

  normalizeTransform(input: TransformInput): ImageRecipe {
    const max = this.settings.maxTransformSize;
    const side = (name: string, value: number | null | undefined) => {
      if (value == null) return undefined;
      if (!Number.isInteger(value) || value < 1 || value > max) throw new MediaError("BAD_USER_INPUT", `${name} must be between 1 and ${max}`);
      return value;
    };
    const width = side("width", input.width);
    const height = side("height", input.height);
    if (width === undefined && height === undefined) throw new MediaError("BAD_USER_INPUT", "A transform needs a width or a height");
    const quality = input.quality ?? 80;
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new MediaError("BAD_USER_INPUT", "quality must be between 1 and 100");
    const fit = input.fit ?? "inside";
    const format = input.format ?? "webp";
    if (!IMAGE_FITS.includes(fit) || !IMAGE_FORMATS.includes(format)) throw new MediaError("BAD_USER_INPUT", "Unknown fit or format");
    return { type: "image", width, height, fit, format, quality };
  }
}
