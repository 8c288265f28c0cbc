import { Readable } from "node:stream";
import { StorageBase } from "./base.js";
import { StorageError, type ByteRange, type SaveOptions, type UrlOptions } from "./contract.js";
import { assertSafeName } from "./naming.js";
import { servedUrl, type ServedUrlOptions } from "./served.js";

export interface InMemoryStorageOptions extends ServedUrlOptions {
  allowOverwrite?: boolean;
}

interface Entry {
  data: Buffer;
  created: Date;
  modified: Date;
  accessed: Date;
}

/**
 * Files in this process's memory, like Django's InMemoryStorage: nothing persists. A real
 * backend with the same semantics as the others (tests and throwaway setups use it).
 */
export class InMemoryStorage extends StorageBase {
  private readonly files = new Map<string, Entry>();

  constructor(private readonly options: InMemoryStorageOptions) {
    super(options.allowOverwrite ?? false);
  }

  async url(name: string, options?: UrlOptions): Promise<string> {
    return servedUrl(this.options, name, options);
  }

  async save(name: string, content: Readable, options: SaveOptions = {}): Promise<string> {
    const safe = assertSafeName(name);
    const chunks: Buffer[] = [];
    for await (const chunk of content) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    // Choosing the name and storing under it happen in one turn of the event loop: no other save
    // can take the name in between.
    const stored = this.allowOverwrite || !this.isTaken(safe, options.maxLength) ? safe : this.freeName(safe, options.maxLength);
    if (options.maxLength !== undefined && stored.length > options.maxLength) {
      throw new StorageError("NAME_TOO_LONG", `${JSON.stringify(stored)} is longer than ${options.maxLength} characters`);
    }
    const now = new Date();
    this.files.set(stored, { data: Buffer.concat(chunks), created: now, modified: now, accessed: now });
    return stored;
  }

  private isTaken(name: string, maxLength?: number): boolean {
    return this.files.has(name) || this.isDirectory(name) || (maxLength !== undefined && name.length > maxLength);
  }

  private freeName(name: string, maxLength?: number): string {
    for (let attempt = 0; attempt < 100; attempt++) {
      const candidate = this.alternativeFor(name, maxLength);
      if (!this.isTaken(candidate, maxLength)) return candidate;
    }
    throw new StorageError("NAME_UNAVAILABLE", `No free name found for ${JSON.stringify(name)}`);
  }

  private isDirectory(name: string): boolean {
    const prefix = `${name}/`;
    for (const key of this.files.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  async open(name: string, range: ByteRange = {}): Promise<Readable> {
    const entry = this.entry(name);
    entry.accessed = new Date();
    const end = range.end === undefined ? entry.data.length : range.end + 1;
    return Readable.from([entry.data.subarray(range.start ?? 0, end)]);
  }

  async move(from: string, to: string): Promise<void> {
    const entry = this.entry(from);
    const target = assertSafeName(to);
    if (this.files.has(target)) throw new StorageError("EXISTS", `${to} already exists`);
    this.files.delete(assertSafeName(from));
    this.files.set(target, { ...entry, modified: new Date() });
  }

  async delete(name: string): Promise<void> {
    this.files.delete(assertSafeName(name));
  }

  async exists(name: string): Promise<boolean> {
    const safe = assertSafeName(name);
    return this.files.has(safe) || this.isDirectory(safe);
  }

  async size(name: string): Promise<number> {
    return this.entry(name).data.length;
  }

  override async getCreatedTime(name: string): Promise<Date> {
    return this.entry(name).created;
  }

  async getModifiedTime(name: string): Promise<Date> {
    return this.entry(name).modified;
  }

  override async getAccessedTime(name: string): Promise<Date> {
    return this.entry(name).accessed;
  }

  async listdir(dir: string): Promise<{ directories: string[]; files: string[] }> {
    const prefix = dir === "" ? "" : `${assertSafeName(dir)}/`;
    const directories = new Set<string>();
    const files: string[] = [];
    for (const key of this.files.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash === -1) files.push(rest);
      else directories.add(rest.slice(0, slash));
    }
    if (prefix !== "" && files.length === 0 && directories.size === 0) {
      throw new StorageError("NOT_FOUND", `${dir} does not exist`);
    }
    return { directories: [...directories].sort(), files: files.sort() };
  }

  private entry(name: string): Entry {
    const entry = this.files.get(assertSafeName(name));
    if (!entry) throw new StorageError("NOT_FOUND", `${name} does not exist`);
    return entry;
  }
}
