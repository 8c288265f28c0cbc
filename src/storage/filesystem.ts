import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { StorageBase } from "./base.js";
import { StorageError, unavailable, type ByteRange, type SaveOptions, type UrlOptions } from "./contract.js";
import { assertSafeName } from "./naming.js";
import { writeFrom } from "./streams.js";
import { servedUrl, type ServedUrlOptions } from "./served.js";

export interface FileSystemStorageOptions extends ServedUrlOptions {
  location: string;
  filePermissionsMode?: number;
  directoryPermissionsMode?: number;
  /** Django 5.1's allow_overwrite: save() replaces an existing file instead of choosing another name. */
  allowOverwrite?: boolean;
}

const MAX_NAME_ATTEMPTS = 100;
/** Tries at making a directory and writing in it while concurrent deletes remove it. */
const MAX_DIRECTORY_ATTEMPTS = 10;

/** Files on local disk. Writes are atomic and durable: temp file, fsync, link/rename, fsync directory. */
export class FileSystemStorage extends StorageBase {
  readonly location: string;

  constructor(private readonly options: FileSystemStorageOptions) {
    super(options.allowOverwrite ?? false);
    this.location = path.resolve(options.location);
  }

  override path(name: string): string {
    const full = path.resolve(this.location, assertSafeName(name));
    if (!full.startsWith(this.location + path.sep)) {
      throw new StorageError("SUSPICIOUS_NAME", `Refused storage name ${JSON.stringify(name)}`);
    }
    return full;
  }

  async url(name: string, options?: UrlOptions): Promise<string> {
    return servedUrl(this.options, name, options);
  }

  async save(name: string, content: Readable, options: SaveOptions = {}): Promise<string> {
    const target = this.path(name);
    const dir = path.dirname(target);
    const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString("hex")}.part`);
    try {
      const fileMode = this.options.filePermissionsMode;
      const handle = await unavailableOnError(() => this.inDirectory(dir, () => fs.open(temp, "wx", fileMode)));
      if (fileMode !== undefined) {
        // Exactly the configured mode (the umask does not apply), set before the bytes so the
        // file's sync below makes it durable with them.
        await unavailableOnError(() => handle.chmod(fileMode)).catch(async (err) => {
          await handle.close().catch(() => {});
          throw err;
        });
      }
      // A larger buffer lets chunks that arrive during a write go out together in one writev;
      // `flush` syncs the file before the stream closes it, so the bytes are on disk before the
      // name is.
      await writeFrom(content, handle.createWriteStream({ highWaterMark: 1024 * 1024, flush: true })).catch((err) => {
        throw err instanceof StorageError && err.code === "STORAGE_UNAVAILABLE" ? fsError(err.cause) : err;
      });
      const stored = await this.publish(temp, assertSafeName(name), options.maxLength);
      await fsyncDir(dir);
      return stored;
    } finally {
      await fs.unlink(temp).catch(() => {});
    }
  }

  /** Makes `temp` visible under `name` or a free alternative; never replaces a file unless allowed. */
  private async publish(temp: string, name: string, maxLength?: number): Promise<string> {
    if (this.allowOverwrite) {
      const available = await this.getAvailableName(name, maxLength);
      await unavailableOnError(() => fs.rename(temp, this.path(available)));
      return available;
    }
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
      const candidate = attempt === 0 && (maxLength === undefined || name.length <= maxLength) ? name : this.alternativeFor(name, maxLength);
      try {
        // link() fails when the name exists, so concurrent savers never overwrite each other.
        await fs.link(temp, this.path(candidate));
        return candidate;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw fsError(err);
      }
    }
    throw new StorageError("NAME_UNAVAILABLE", `No free name found for ${JSON.stringify(name)}`);
  }

  async open(name: string, range: ByteRange = {}): Promise<Readable> {
    const full = this.path(name);
    const handle = await fs.open(full, "r").catch((err) => {
      throw notFoundOr(err, name);
    });
    return createReadStream("", { fd: handle, start: range.start, end: range.end, highWaterMark: 1024 * 1024 });
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.path(from);
    const target = this.path(to);
    try {
      await this.inDirectory(path.dirname(target), () => fs.link(source, target), () => exists(source));
    } catch (err) {
      if (err instanceof StorageError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw new StorageError("EXISTS", `${to} already exists`);
      throw notFoundOr(err, from);
    }
    await fs.unlink(source).catch((err) => {
      throw unavailable(err);
    });
    // The object is new under this name: gc's grace period runs from now, not from staging.
    const now = new Date();
    await fs.utimes(target, now, now).catch((err) => {
      throw unavailable(err);
    });
    await fsyncDir(path.dirname(target));
    if (path.dirname(source) !== path.dirname(target)) {
      // Emptied by the unlink above, the source directory may be gone already (a concurrent delete).
      await fsyncDir(path.dirname(source)).catch((err) => {
        if (!isMissing(err)) throw unavailable(err);
      });
    }
  }

  /**
   * Removes a file, or an empty directory as Django does; silent when nothing is there. The
   * directories this leaves empty go too, up to the root, so a deleted shelf leaves no trace.
   */
  async delete(name: string): Promise<void> {
    const full = this.path(name);
    await fs.rm(full, { force: true }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== "ERR_FS_EISDIR") throw unavailable(err);
      await fs.rmdir(full).catch((e) => {
        throw unavailable(e);
      });
    });
    await this.removeEmptyParents(path.dirname(full));
  }

  /**
   * rmdir from `dir` upwards, stopping at the first directory that is not empty (or not there to
   * remove). Best effort: the delete itself has succeeded. A save racing this into the same
   * directory retries (see inDirectory), so removing a directory another writer is about to use is safe.
   */
  private async removeEmptyParents(dir: string): Promise<void> {
    for (let d = dir; d.startsWith(this.location + path.sep); d = path.dirname(d)) {
      try {
        await fs.rmdir(d);
      } catch (err) {
        // Missing: a concurrent delete removed it first; its parent may be empty now too.
        if (!isMissing(err)) return;
      }
    }
  }

  /**
   * Makes `dir` and runs `write` in it. A concurrent delete may remove the directory in between
   * (it was empty), which shows as ENOENT: then both are tried again. `retryable` says whether a
   * write's ENOENT can be the directory's (a move's source may be the missing one). The write's
   * own errors are rethrown as they are, for the caller to map.
   */
  private async inDirectory<T>(dir: string, write: () => Promise<T>, retryable: () => Promise<boolean> = async () => true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= MAX_DIRECTORY_ATTEMPTS;
      try {
        await this.makeDirs(dir);
      } catch (err) {
        // A recursive mkdir that finds a directory gone between its steps says ENOTDIR.
        if (last || !(isMissing(err) || (err as NodeJS.ErrnoException).code === "ENOTDIR")) throw fsError(err);
        continue;
      }
      try {
        return await write();
      } catch (err) {
        if (last || !isMissing(err) || !(await retryable())) throw err;
      }
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      await fs.access(this.path(name));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw unavailable(err);
    }
  }

  async size(name: string): Promise<number> {
    return (await this.stat(name)).size;
  }

  override async getCreatedTime(name: string): Promise<Date> {
    const stat = await this.stat(name);
    return stat.birthtimeMs > 0 ? stat.birthtime : stat.ctime;
  }

  async getModifiedTime(name: string): Promise<Date> {
    return (await this.stat(name)).mtime;
  }

  override async getAccessedTime(name: string): Promise<Date> {
    return (await this.stat(name)).atime;
  }

  async listdir(dirName: string): Promise<{ directories: string[]; files: string[] }> {
    const full = dirName === "" ? this.location : this.path(dirName);
    const entries = await fs.readdir(full, { withFileTypes: true }).catch((err) => {
      throw notFoundOr(err, dirName);
    });
    return {
      directories: entries.filter((e) => e.isDirectory()).map((e) => e.name),
      files: entries.filter((e) => e.isFile()).map((e) => e.name),
    };
  }

  private async stat(name: string) {
    return fs.stat(this.path(name)).catch((err) => {
      throw notFoundOr(err, name);
    });
  }

  /** Creates `dir` and its missing parents with the configured mode (exactly: the umask does not apply). */
  private async makeDirs(dir: string): Promise<void> {
    const mode = this.options.directoryPermissionsMode;
    const first = await fs.mkdir(dir, { recursive: true, mode });
    if (first === undefined) return;
    if (mode !== undefined) for (let d = dir; d.length >= first.length; d = path.dirname(d)) await fs.chmod(d, mode);
    // New directories are durable only once their parent's entry is.
    await fsyncDir(path.dirname(first));
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

function notFoundOr(err: unknown, name: string): StorageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return new StorageError("NOT_FOUND", `${name} does not exist`);
  return unavailable(err);
}

/** Like `unavailable`, but a name the file system cannot hold is NAME_TOO_LONG. */
function fsError(err: unknown): StorageError {
  if ((err as NodeJS.ErrnoException).code === "ENAMETOOLONG") {
    return new StorageError("NAME_TOO_LONG", "The name is too long for the file system", { cause: err });
  }
  return unavailable(err);
}

async function unavailableOnError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fsError(err);
  }
}
