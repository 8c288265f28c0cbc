import { audioArgs, runFfmpeg, videoArgs, type FfmpegOptions } from "./av.js";
import { transcodeImage, type ImageLimits } from "./image.js";
import type { Recipe } from "./presets.js";
import type { TranscodeResult } from "./result.js";

export type { TranscodeResult };

/** The file a version is made from. */
export interface SourceFile {
  path: string;
  mimeType: string;
  /** The demuxer forced on ffmpeg, from the sniffed type. */
  demuxer?: string;
  durationMs?: number;
}

export interface TranscodeRun {
  onProgress?: (fraction: number) => void;
  /** Stops the work (the process is shutting down). */
  abort?: AbortSignal;
}


export interface Transcoder {
  name: string;
  accepts(source: SourceFile, recipe: Recipe): boolean;
  /**
   * Makes the version: its bytes in the result, or written to the file `output()` names (a
   * scratch directory, made only for the transcoders that ask).
   */
  run(source: SourceFile, output: () => Promise<string>, recipe: Recipe, run: TranscodeRun): Promise<TranscodeResult>;
}

export interface TranscoderSettings {
  image: ImageLimits;
  ffmpeg: FfmpegOptions;
}

/** The transcoders in the order they are asked; the first that accepts a file and recipe makes it. */
export function defaultTranscoders(settings: TranscoderSettings): Transcoder[] {
  return [
    {
      name: "sharp",
      accepts: (source, recipe) => recipe.type === "image" && source.mimeType.startsWith("image/"),
      run: (source, _output, recipe) => transcodeImage(source.path, recipe as Extract<Recipe, { type: "image" }>, settings.image),
    },
    {
      name: "ffmpeg-video",
      accepts: (source, recipe) => recipe.type === "video" && source.demuxer !== undefined && source.mimeType.startsWith("video/"),
      run: async (source, output, recipe, run) => {
        const args = videoArgs(source.path, source.demuxer!, await output(), recipe as Extract<Recipe, { type: "video" }>);
        await runFfmpeg(args, { ...settings.ffmpeg, durationMs: source.durationMs, onProgress: run.onProgress, abort: run.abort });
        return {};
      },
    },
    {
      name: "ffmpeg-audio",
      accepts: (source, recipe) => recipe.type === "audio" && source.demuxer !== undefined,
      run: async (source, output, recipe, run) => {
        const args = audioArgs(source.path, source.demuxer!, await output(), recipe as Extract<Recipe, { type: "audio" }>);
        await runFfmpeg(args, { ...settings.ffmpeg, durationMs: source.durationMs, onProgress: run.onProgress, abort: run.abort });
        return {};
      },
    },
  ];
}
