import sharp from "sharp";
import { TranscodeError } from "./errors.js";
import type { ImageRecipe } from "./presets.js";
import type { ToolLog } from "./process.js";
import type { TranscodeResult } from "./result.js";

// Every version is made from a different file: sharp's operation cache would only hold memory.
sharp.cache(false);

export interface ImageLimits {
  maxPixels: number;
  timeoutSeconds: number;
  /** sharp's own words about a failure go here (they can name the file), never into an error's message. */
  log?: ToolLog;
}

/**
 * Makes an image version: the original's EXIF orientation applied, resized within the recipe's
 * box and never enlarged, alpha kept where the format has it, and no metadata (sharp writes none
 * unless asked, so EXIF and GPS stay behind). Untrusted input: a pixel cap, warnings are errors,
 * and a deadline.
 */
export async function transcodeImage(input: string, recipe: ImageRecipe, limits: ImageLimits): Promise<TranscodeResult> {
  let pipeline = sharp(input, { failOn: "warning", limitInputPixels: limits.maxPixels, animated: false })
    .autoOrient()
    // "contain" pads: transparent where the format keeps alpha (JPEG is flattened below).
    .resize({ width: recipe.width, height: recipe.height, fit: recipe.fit, withoutEnlargement: true, background: { r: 0, g: 0, b: 0, alpha: 0 } })
    .timeout({ seconds: limits.timeoutSeconds });
  switch (recipe.format) {
    case "webp":
      pipeline = pipeline.webp({ quality: recipe.quality });
      break;
    case "avif":
      pipeline = pipeline.avif({ quality: recipe.quality, effort: 4 });
      break;
    case "jpeg":
      // JPEG has no alpha: transparent parts become white rather than black.
      pipeline = pipeline.flatten({ background: "#ffffff" }).jpeg({ quality: recipe.quality, mozjpeg: true });
      break;
    case "png":
      pipeline = pipeline.png({ compressionLevel: 6 });
      break;
  }
  // An image version is small enough to keep in memory: no scratch file to write and read back.
  try {
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, bytes: data };
  } catch (err) {
    throw imageFailure(err as Error, input, limits);
  }
}

/** A decoder's failure in fixed words; its own (which can name the file) go to the log. */
function imageFailure(err: Error, input: string, limits: ImageLimits): TranscodeError {
  if (/pixel limit/i.test(err.message)) {
    return new TranscodeError(`The image has more than the ${Math.round(limits.maxPixels / 1e6)} megapixels allowed`, true);
  }
  if (/timeout/i.test(err.message)) {
    return new TranscodeError(`Making the image version took longer than ${limits.timeoutSeconds} s and was stopped`, true);
  }
  limits.log?.(`transcoding the image ${input} failed: ${err.message}`);
  return new TranscodeError("The image could not be transcoded: it is damaged or not in a format its content suggests", true);
}
