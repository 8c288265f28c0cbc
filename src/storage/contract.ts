import type { Readable } from "node:stream";

/**
 * The storage contract, modelled on Django's Storage API but async and stream-based.
 * Names are relative, slash-separated paths inside the backend's root; backends never
 * let a name reach outside that root.
 */
export interface Storage {
  /**
   * Streams `content` to `name`, or to an available alternative when `name` is taken and
   * overwriting is not allowed, and returns the name actually used. Nothing is visible under
   * that name until every byte is durably written. Errors from `content` are rethrown as they
   * are, after anything partly written has been removed.
   * @throws StorageError SUSPICIOUS_NAME, NAME_TOO_LONG, STORAGE_UNAVAILABLE
   */
  save(name: string, content: Readable, options?: SaveOptions): Promise<string>;

  /**
   * A stream of the bytes of `name`, from `start` to `end` inclusive when given.
   * @throws StorageError NOT_FOUND, SUSPICIOUS_NAME, STORAGE_UNAVAILABLE
   */
  open(name: string, range?: { start?: number; end?: number }): Promise<Readable>;

  /**
   * Renames `from` to `to` (which must be free); the step that makes a staged upload final.
   * @throws StorageError NOT_FOUND, EXISTS, SUSPICIOUS_NAME, STORAGE_UNAVAILABLE
   */
  move(from: string, to: string): Promise<void>;

  /** Removes `name`; silent when it does not exist. @throws StorageError SUSPICIOUS_NAME, STORAGE_UNAVAILABLE */
  delete(name: string): Promise<void>;

  /** @throws StorageError SUSPICIOUS_NAME, STORAGE_UNAVAILABLE */
  exists(name: string): Promise<boolean>;

  /** @throws StorageError NOT_FOUND, SUSPICIOUS_NAME, STORAGE_UNAVAILABLE */
  size(name: string): Promise<number>;

  /** Directories and files directly under `path` ("" for the root). @throws StorageError NOT_FOUND, STORAGE_UNAVAILABLE */
  listdir(path: string): Promise<{ directories: string[]; files: string[] }>;

  /** @throws StorageError NOT_FOUND, STORAGE_UNAVAILABLE */
  getModifiedTime(name: string): Promise<Date>;

  /** The URL that serves `name`. */
  url(name: string): string;

  /**
   * A local filesystem path for `name`, for backends that have one (decoders read files
   * in place); `undefined` for remote backends.
   */
  path(name: string): string | undefined;
}

export interface SaveOptions {
  /** Longest name, in characters, the caller can record. */
  maxLength?: number;
  contentType?: string;
}

export type StorageErrorCode =
  | "NOT_FOUND"
  | "EXISTS"
  | "SUSPICIOUS_NAME"
  | "NAME_TOO_LONG"
  | "STORAGE_UNAVAILABLE";

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StorageError";
  }
}
