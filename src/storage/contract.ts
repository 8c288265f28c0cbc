import type { Readable } from "node:stream";

/**
 * The storage contract, modelled on Django's Storage API but async and stream-based.
 * Names are relative, slash-separated paths inside the backend's root; backends never
 * let a name reach outside that root. Every error is a StorageError with a code.
 */
export interface Storage {
  /**
   * Streams `content` to `name`, or to an available alternative when `name` is taken and
   * overwriting is not allowed, and returns the name actually used. Nothing is visible under
   * that name until every byte is written. Errors from `content` are rethrown as they are,
   * after anything partly written has been removed.
   * @throws StorageError SUSPICIOUS_NAME, NAME_TOO_LONG, NAME_UNAVAILABLE, STORAGE_UNAVAILABLE
   */
  save(name: string, content: Readable, options?: SaveOptions): Promise<string>;

  /**
   * A stream of the bytes of `name`, from `start` to `end` inclusive when given.
   * @throws StorageError NOT_FOUND, SUSPICIOUS_NAME, STORAGE_UNAVAILABLE
   */
  open(name: string, range?: ByteRange): Promise<Readable>;

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

  /** @throws StorageError NOT_FOUND, NOT_SUPPORTED, STORAGE_UNAVAILABLE */
  getCreatedTime(name: string): Promise<Date>;
  /** @throws StorageError NOT_FOUND, NOT_SUPPORTED, STORAGE_UNAVAILABLE */
  getModifiedTime(name: string): Promise<Date>;
  /** @throws StorageError NOT_FOUND, NOT_SUPPORTED, STORAGE_UNAVAILABLE */
  getAccessedTime(name: string): Promise<Date>;

  /**
   * The URL that serves `name`. `expiresIn` (seconds) asks for a link that stops working then;
   * `download` for one that makes browsers save the file rather than show it.
   * @throws StorageError SUSPICIOUS_NAME
   */
  url(name: string, options?: UrlOptions): Promise<string>;

  /** Django's get_valid_name: a name made safe for this backend. @throws StorageError SUSPICIOUS_NAME */
  getValidName(name: string): string;

  /**
   * Django's get_available_name: `name` if it is free (or overwriting is allowed), else an
   * alternative, never longer than `maxLength`.
   * @throws StorageError SUSPICIOUS_NAME, NAME_TOO_LONG, NAME_UNAVAILABLE, STORAGE_UNAVAILABLE
   */
  getAvailableName(name: string, maxLength?: number): Promise<string>;

  /** Django's get_alternative_name: an underscore and 7 random alphanumerics before the extension. */
  getAlternativeName(fileRoot: string, fileExt: string): string;

  /**
   * Django's generate_filename: the directory part of `filename` (an upload route's output)
   * kept, its last segment made valid. @throws StorageError SUSPICIOUS_NAME
   */
  generateFilename(filename: string): string;

  /**
   * A local filesystem path for `name`, for backends that have one (decoders read files in
   * place); `undefined` for every other backend.
   */
  path(name: string): string | undefined;

  /**
   * Optional: removes what saves cut short (a crash mid-write) left where listdir cannot see it,
   * such as unfinished database rows or S3 multipart uploads, idle since before `before`.
   * Returns how many were removed (counted only, on a dry run).
   * @throws StorageError NOT_SUPPORTED (the store cannot list them), STORAGE_UNAVAILABLE
   */
  sweepIncomplete?(before: Date, options?: { dryRun?: boolean }): Promise<number>;
}

export interface ByteRange {
  start?: number;
  end?: number;
}

export interface SaveOptions {
  /** Longest name, in characters, the caller can record. */
  maxLength?: number;
  contentType?: string;
}

export interface UrlOptions {
  expiresIn?: number;
  download?: boolean;
}

export type StorageErrorCode =
  | "NOT_FOUND"
  | "EXISTS"
  | "SUSPICIOUS_NAME"
  | "NAME_TOO_LONG"
  /** Every alternative name tried was taken (a name too long is NAME_TOO_LONG). */
  | "NAME_UNAVAILABLE"
  | "NOT_SUPPORTED"
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

/** Wraps anything a backend throws that is not already a StorageError as STORAGE_UNAVAILABLE. */
export function unavailable(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError("STORAGE_UNAVAILABLE", `Storage failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
