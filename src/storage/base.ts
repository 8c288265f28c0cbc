import path from "node:path";
import { StorageError, type ByteRange, type SaveOptions, type Storage, type UrlOptions } from "./contract.js";
import { assertSafeName, getAlternativeName, getValidName, splitExt } from "./naming.js";
import type { Readable } from "node:stream";

const MAX_NAME_ATTEMPTS = 100;

/** Django's naming behaviour, shared by every backend; backends supply the I/O. */
export abstract class StorageBase implements Storage {
  constructor(protected readonly allowOverwrite = false) {}

  abstract save(name: string, content: Readable, options?: SaveOptions): Promise<string>;
  abstract open(name: string, range?: ByteRange): Promise<Readable>;
  abstract move(from: string, to: string): Promise<void>;
  abstract delete(name: string): Promise<void>;
  abstract exists(name: string): Promise<boolean>;
  abstract size(name: string): Promise<number>;
  abstract listdir(path: string): Promise<{ directories: string[]; files: string[] }>;
  abstract getModifiedTime(name: string): Promise<Date>;
  abstract url(name: string, options?: UrlOptions): Promise<string>;

  getCreatedTime(_name: string): Promise<Date> {
    return Promise.reject(new StorageError("NOT_SUPPORTED", `${this.constructor.name} does not record creation times`));
  }

  getAccessedTime(_name: string): Promise<Date> {
    return Promise.reject(new StorageError("NOT_SUPPORTED", `${this.constructor.name} does not record access times`));
  }

  path(_name: string): string | undefined {
    return undefined;
  }

  getValidName(name: string): string {
    return getValidName(name);
  }

  getAlternativeName(fileRoot: string, fileExt: string): string {
    return getAlternativeName(fileRoot, fileExt);
  }

  generateFilename(filename: string): string {
    const normal = assertSafeName(filename.replace(/\\/g, "/"));
    const dir = path.posix.dirname(normal);
    const valid = this.getValidName(path.posix.basename(normal));
    return dir === "." ? valid : `${dir}/${valid}`;
  }

  async getAvailableName(name: string, maxLength?: number): Promise<string> {
    let candidate = assertSafeName(name);
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
      const tooLong = maxLength !== undefined && candidate.length > maxLength;
      if (!tooLong && (this.allowOverwrite || !(await this.exists(candidate)))) return candidate;
      candidate = this.alternativeFor(name, maxLength);
    }
    throw new StorageError("NAME_UNAVAILABLE", `No free name found for ${JSON.stringify(name)}`);
  }

  /** An alternative to `name`, its root cut so the result fits `maxLength` (Django's truncation). */
  protected alternativeFor(name: string, maxLength?: number): string {
    const dir = path.posix.dirname(name);
    const prefix = dir === "." ? "" : `${dir}/`;
    let [root, ext] = splitExt(path.posix.basename(name));
    let candidate = prefix + this.getAlternativeName(root, ext);
    if (maxLength !== undefined && candidate.length > maxLength) {
      root = root.slice(0, root.length - (candidate.length - maxLength));
      if (root === "") {
        throw new StorageError(
          "NAME_TOO_LONG",
          `No available name for ${JSON.stringify(name)} fits ${maxLength} characters; allow longer names`,
        );
      }
      candidate = prefix + this.getAlternativeName(root, ext);
    }
    return candidate;
  }
}
