import type { AudioRecipe, VideoRecipe } from "./presets.js";
import { TranscodeAborted, TranscodeError } from "./errors.js";
import { lastLine, runProcess, type ToolLog } from "./process.js";

export interface FfmpegOptions {
  ffmpegPath: string;
  timeoutMs: number;
  /** ffmpeg's own words about a failure go here (the server log), never into an error's message. */
  log?: ToolLog;
}

/**
 * Input options shared by every run: the demuxer is forced from the sniffed type (a playlist or
 * concat script disguised as media is never parsed as one), only local files and pipes may be
 * opened, and nothing is read from stdin.
 */
function inputArgs(input: string, demuxer: string, seekSeconds?: number): string[] {
  return [
    "-hide_banner",
    "-nostdin",
    "-y",
    "-v", "error",
    "-protocol_whitelist", "file,pipe",
    ...(seekSeconds !== undefined ? ["-ss", seekSeconds.toFixed(3)] : []),
    "-f", demuxer,
    "-i", `file:${input}`,
  ];
}

/** No metadata, chapters, subtitles or data streams reach a version (no GPS, no titles). */
const STRIP = ["-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn"];
const PROGRESS = ["-progress", "pipe:1", "-nostats"];

/**
 * Scales so the shorter side is at most `maxShortSide`, never up, both sides even (yuv420p needs
 * that). ffmpeg has already applied the rotation, so portrait video keeps its orientation.
 */
function scaleFilter(maxShortSide: number): string {
  const m = maxShortSide;
  return (
    `scale=w='if(gte(iw,ih),-2,min(${m},trunc(iw/2)*2))':h='if(gte(iw,ih),min(${m},trunc(ih/2)*2),-2)'` +
    ",format=yuv420p"
  );
}

/** The whole ffmpeg argument list for a video recipe (also what the benchmark runs bare). */
export function videoArgs(input: string, demuxer: string, output: string, recipe: VideoRecipe): string[] {
  const codecs =
    recipe.container === "mp4"
      ? ["-c:v", "libx264", "-preset", "veryfast", "-crf", String(recipe.crf ?? 23), "-profile:v", "high",
         "-c:a", "aac", "-b:a", `${recipe.audioBitrateK}k`, "-ac", "2", "-movflags", "+faststart", "-f", "mp4"]
      : ["-c:v", "libvpx-vp9", "-crf", String(recipe.crf ?? 33), "-b:v", "0", "-deadline", "good", "-cpu-used", "5", "-row-mt", "1",
         "-c:a", "libopus", "-b:a", `${recipe.audioBitrateK}k`, "-ac", "2", "-f", "webm"];
  return [
    ...inputArgs(input, demuxer),
    "-map", "0:v:0", "-map", "0:a:0?",
    ...STRIP,
    "-vf", scaleFilter(recipe.maxShortSide),
    ...codecs,
    ...PROGRESS,
    `file:${output}`,
  ];
}

export function audioArgs(input: string, demuxer: string, output: string, recipe: AudioRecipe): string[] {
  const codecs = {
    mp3: ["-c:a", "libmp3lame", "-f", "mp3"],
    aac: ["-c:a", "aac", "-movflags", "+faststart", "-f", "ipod"],
    opus: ["-c:a", "libopus", "-f", "ogg"],
  }[recipe.codec];
  return [...inputArgs(input, demuxer), "-map", "0:a:0", "-vn", ...STRIP, "-b:a", `${recipe.bitrateK}k`, ...codecs, ...PROGRESS, `file:${output}`];
}

/** One frame at `seconds`, as PNG (lossless; it becomes an image shelf with its own versions). */
export function posterArgs(input: string, demuxer: string, output: string, seconds: number): string[] {
  return [...inputArgs(input, demuxer, seconds), "-map", "0:v:0", ...STRIP, "-frames:v", "1", "-c:v", "png", "-f", "image2", `file:${output}`];
}

/**
 * Runs ffmpeg, reporting progress (0 to 1) from its `-progress` output against the known
 * duration. A non-zero exit or a timeout is an error in fixed words (ffmpeg's name paths and
 * internals: its last line goes to the log).
 */
export async function runFfmpeg(
  args: string[],
  options: FfmpegOptions & { durationMs?: number; onProgress?: (fraction: number) => void; abort?: AbortSignal },
): Promise<void> {
  let pending = "";
  const onStdout = (chunk: Buffer) => {
    pending += chunk.toString("latin1");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const match = /^out_time_us=(\d+)/.exec(line);
      if (match && options.durationMs && options.onProgress) {
        options.onProgress(Math.min(1, Number(match[1]) / 1000 / options.durationMs));
      }
    }
  };
  let result;
  try {
    result = await runProcess(options.ffmpegPath, args, { timeoutMs: options.timeoutMs, maxStdout: 0, onStdout, abort: options.abort });
  } catch (err) {
    options.log?.(`${options.ffmpegPath} could not be started: ${(err as Error).message}`);
    throw new TranscodeError("The transcoder could not be started", false);
  }
  if (result.aborted) throw new TranscodeAborted();
  if (result.timedOut) throw new TranscodeError(`Transcoding took longer than ${Math.round(options.timeoutMs / 1000)} s and was stopped`, true);
  if (result.code !== 0) {
    options.log?.(`ffmpeg failed (exit code ${result.code ?? result.signal}): ${lastLine(result.stderr)}`);
    throw new TranscodeError("The media could not be transcoded: it is damaged or holds streams that cannot be decoded", true);
  }
}
