import type { Storage } from "./contract.js";
import { FileSystemStorage } from "./filesystem.js";

/** Storage backends by alias, like Django's STORAGES; `default` is required. */
export class StorageRegistry {
  constructor(private readonly backends: Record<string, Storage> & { default: Storage }) {}

  get(alias: string): Storage {
    const storage = this.backends[alias];
    if (!storage) throw new Error(`No storage configured under the alias ${JSON.stringify(alias)}`);
    return storage;
  }

  aliases(): string[] {
    return Object.keys(this.backends);
  }
}

export function createStorages(options: { mediaRoot: string; mediaUrl: string }): StorageRegistry {
  return new StorageRegistry({
    default: new FileSystemStorage({ location: options.mediaRoot, baseUrl: options.mediaUrl }),
  });
}
