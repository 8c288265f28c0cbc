import type { MediaInfo } from "./analyze.js";

/** What is known of a made version without probing it, and its bytes when they were made in memory. */
export interface TranscodeResult extends MediaInfo {
  /** The version itself, when the transcoder made it in memory rather than writing `output`. */
  bytes?: Buffer;
}
