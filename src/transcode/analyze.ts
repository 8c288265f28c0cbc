import sharp, { type Metadata } from "sharp";
import { AnalysisError } from "./errors.js";
import { lastLine, runProcess, type ToolLog } from "./process.js";

/** Technical metadata of a stored file. */
export interface MediaInfo {
  width?: number;
  height?: number;
  durationMs?: number;
  videoCodec?: string;
  audioCodec?: string;
  /** Bits per second of the whole file. */
  bitrate?: number;
  /** Frames per second of the video stream. */
  frameRate?: number;
  /** Degrees the video is turned when shown (width and height above already account for it). */
  rotation?: number;
}

/**
 * Reads an image's header only (nothing is decoded), so a small file that declares an enormous
 * canvas is refused before any pixel is allocated. Dimensions are as displayed, after EXIF orientation.
 */
export async function analyzeImage(file: string, options: { maxPixels: number; log?: ToolLog }): Promise<MediaInfo> {
  let meta: Metadata;
  try {
    meta = await sharp(file, { failOn: "warning", limitInputPixels: options.maxPixels }).metadata();
  } catch (err) {
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new AnalysisError(`The image has more than the ${Math.round(options.maxPixels / 1e6)} megapixels allowed`, true);
    }
    options.log?.(`reading the image ${file} failed: ${message}`);
    throw new AnalysisError("The image could not be read: it is damaged or not in a format its content suggests", true);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new AnalysisError("The image has no dimensions", true);
  if (width * height > options.maxPixels) {
    const mp = (n: number) => Math.round(n / 1e6);
    throw new AnalysisError(
      `The image is ${width}x${height} (${mp(width * height)} megapixels); at most ${mp(options.maxPixels)} megapixels are allowed`,
      true,
    );
  }
  return { width, height };
}

interface ProbeOutput {
  format?: { duration?: string; bit_rate?: string };
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    avg_frame_rate?: string;
    width?: number;
    height?: number;
    duration?: string;
    tags?: { rotate?: string };
    disposition?: { attached_pic?: number };
    side_data_list?: Array<{ rotation?: number }>;
  }>;
}

export interface ProbeOptions {
  ffprobePath: string;
  timeoutMs: number;
  log?: ToolLog;
}

/**
 * Probes audio or video with the demuxer forced from the sniffed type and only local file access,
 * so a playlist or concat script disguised as media cannot make the prober open other files or
 * the network.
 */
export async function analyzeAudioVideo(file: string, demuxer: string, options: ProbeOptions): Promise<MediaInfo> {
  const args = [
    "-hide_banner",
    "-v", "error",
    "-protocol_whitelist", "file",
    "-f", demuxer,
    "-print_format", "json",
    "-show_format",
    "-show_streams",
    `file:${file}`,
  ];
  let result;
  try {
    result = await runProcess(options.ffprobePath, args, { timeoutMs: options.timeoutMs });
  } catch (err) {
    options.log?.(`${options.ffprobePath} could not be started: ${(err as Error).message}`);
    throw new AnalysisError("The media could not be analysed: the prober could not be started", false);
  }
  if (result.timedOut) throw new AnalysisError(`Probing the file took longer than ${options.timeoutMs} ms`, true);
  if (result.code !== 0) {
    options.log?.(`probing ${file} failed (exit code ${result.code ?? result.signal}): ${lastLine(result.stderr)}`);
    throw new AnalysisError("The media could not be read: it is damaged or not in the format its content suggests", true);
  }
  let probe: ProbeOutput;
  try {
    probe = JSON.parse(result.stdout) as ProbeOutput;
  } catch {
    throw new AnalysisError("The media could not be read: unreadable probe output", true);
  }
  // Cover art embedded in audio files shows up as a one-frame video stream; it is not the media.
  const streams = (probe.streams ?? []).filter((s) => s.disposition?.attached_pic !== 1);
  const av = streams.filter((s) => s.codec_type === "audio" || s.codec_type === "video");
  if (av.length === 0) throw new AnalysisError("The file holds no audio or video stream", true);

  const info: MediaInfo = {};
  const seconds = Number(probe.format?.duration ?? av.find((s) => s.duration)?.duration);
  if (Number.isFinite(seconds) && seconds >= 0) info.durationMs = Math.round(seconds * 1000);

  const bitrate = Number(probe.format?.bit_rate);
  if (Number.isFinite(bitrate) && bitrate > 0) info.bitrate = Math.round(bitrate);
  const audio = streams.find((s) => s.codec_type === "audio");
  if (audio?.codec_name) info.audioCodec = audio.codec_name;

  const video = streams.find((s) => s.codec_type === "video" && s.width && s.height);
  if (video?.width && video.height) {
    const rotation = Number(video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? video.tags?.rotate ?? 0);
    const quarterTurn = Math.abs(rotation) % 180 === 90;
    info.width = quarterTurn ? video.height : video.width;
    info.height = quarterTurn ? video.width : video.height;
    if (rotation) info.rotation = ((rotation % 360) + 360) % 360;
    if (video.codec_name) info.videoCodec = video.codec_name;
    const [num, den] = (video.avg_frame_rate ?? "").split("/").map(Number);
    if (num && den) info.frameRate = Math.round((num / den) * 1000) / 1000;
  }
  return info;
}
