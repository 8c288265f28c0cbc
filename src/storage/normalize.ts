import { Readable } from "node:stream";
import { fileTypeFromBuffer } from "file-type";
import type { Storage } from "./contract.js";
import { peek } from "../streams/peek.js";
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
          const { head, all } = await peek(content, SNIFF_BYTES);
          const type = await fileTypeFromBuffer(head);
          const [root] = splitExt(name);
          const normalized = type?.mime.startsWith("image/") ? `${root}.${type.ext.toLowerCase()}` : name;
          // Readable.from handles backpressure, and a reader that gives up ends the source too.
          return target.save(normalized, Readable.from(all), options);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
