import { Readable } from "node:stream";
import { fileTypeFromBuffer } from "file-type";
import type { Storage } from "./contract.js";
import { splitExt } from "./naming.js";

const SNIFF_BYTES = 4100;

/**
 * django-storages' image storage: images are stored under a lower-case extension taken from
 * their detected format ("Photo.JPEG" that holds a PNG becomes "Photo.png"); other files keep
 * their name.
 */
export function normalizingImageExtensions(storage: Storage): Storage {
  return new Proxy(storage, {
    get(target, property) {
      if (property === "save") {
        return async (name: string, content: Readable, options?: Parameters<Storage["save"]>[2]) => {
          const { head, rest } = await peek(content, SNIFF_BYTES);
          const type = await fileTypeFromBuffer(head);
          const [root] = splitExt(name);
          const normalized = type?.mime.startsWith("image/") ? `${root}.${type.ext.toLowerCase()}` : name;
          return target.save(normalized, rest, options);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The first `bytes` of a stream, and a stream of all of it (those bytes included). */
async function peek(content: Readable, bytes: number): Promise<{ head: Buffer; rest: Readable }> {
  const iterator = content[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    parts.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(parts);
  // Readable.from handles backpressure, and a reader that gives up ends the generator (and the source).
  async function* all(): AsyncGenerator<Buffer> {
    try {
      yield head;
      while (!done) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      if (!done) await iterator.return?.();
    }
  }
  return { head, rest: Readable.from(all()) };
}
