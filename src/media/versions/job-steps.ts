import { TranscodeError } from "../../transcode/errors.js";
import { RecipeSchema, type Recipe } from "../../transcode/presets.js";

const PROGRESS_INTERVAL_MS = 1_000;

/**
 * ffmpeg decodes what it can of a damaged file and exits cleanly; a version much shorter than
 * its original means the original is truncated or corrupt, and is refused rather than served.
 */
export function checkComplete(originalMs: number | null, versionMs: number | undefined): void {
  if (!originalMs || versionMs === undefined) return;
  if (versionMs < originalMs * 0.9 - 500) {
    throw new TranscodeError(
      `The media is truncated or damaged: only ${(versionMs / 1000).toFixed(1)} s of its ${(originalMs / 1000).toFixed(1)} s could be read`,
      true,
    );
  }
}

/** Progress writes at most once a second, never blocking the transcode. */
export function throttledProgress(write: (progress: number) => Promise<unknown>): (fraction: number) => void {
  let last = 0;
  return (fraction) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    write(Math.round(fraction * 1000) / 1000).catch(() => {});
  };
}

/** A job's recipe, or undefined when it is not one (the job then ends FAILED rather than retrying). */
export function parseRecipe(json: string | null): Recipe | undefined {
  try {
    const parsed = RecipeSchema.safeParse(JSON.parse(json ?? "null"));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
