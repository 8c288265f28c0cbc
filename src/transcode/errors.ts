/**
 * What analysing or transcoding media fails with. `badInput` says whose fault it is: the file's
 * (refuse the upload, give the job up: retrying cannot help) or the machine's (a tool that could
 * not start, a scratch directory missing: a later attempt may succeed).
 */
export class MediaProcessingError extends Error {
  constructor(
    message: string,
    /** True when the input itself is at fault. */
    readonly badInput: boolean,
  ) {
    super(message);
    this.name = "MediaProcessingError";
  }
}

/** A file could not be measured (sharp's header read, ffprobe). */
export class AnalysisError extends MediaProcessingError {
  constructor(message: string, badInput: boolean) {
    super(message, badInput);
    this.name = "AnalysisError";
  }
}

/** A version could not be made (sharp, ffmpeg, or the job around them). */
export class TranscodeError extends MediaProcessingError {
  constructor(message: string, badInput: boolean) {
    super(message, badInput);
    this.name = "TranscodeError";
  }
}

/** The work was stopped from outside (the process is shutting down); the job runs again later. */
export class TranscodeAborted extends MediaProcessingError {
  constructor() {
    super("Transcoding was stopped: the process is shutting down", false);
    this.name = "TranscodeAborted";
  }
}
