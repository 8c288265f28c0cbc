import DataLoader from "dataloader";
import type { ListedShelf } from "../media/listing.js";
import type { ShelfRelation } from "../media/relations.js";
import type { MediaFile, Shelf } from "../media/shelves.js";
import type { Services } from "../media/services.js";

/** Per-request batching: however many shelves a page holds, their files cost one query. */
export interface Loaders {
  /**
   * Shelves this request has read with their files and relations (list pages), by id. Their
   * fields resolve from here at once; the loaders below answer from here too, without a query.
   */
  listed: Map<string, ListedShelf>;
  filesByShelf: DataLoader<string, MediaFile[]>;
  relationsByShelf: DataLoader<string, ShelfRelation[]>;
  shelfById: DataLoader<string, Shelf | null>;
  thumbnailsByVideo: DataLoader<string, Shelf[]>;
}

export function createLoaders(services: Services): Loaders {
  const listed = new Map<string, ListedShelf>();
  return {
    listed,
    filesByShelf: new DataLoader(orListed(listed, (l) => l.files, (ids) => services.shelves.filesOf(ids))),
    relationsByShelf: new DataLoader(orListed(listed, (l) => l.relations, (ids) => services.relations.relationsOf(ids))),
    shelfById: new DataLoader(orListed(listed, (l) => l.shelf, (ids) => services.shelves.byIds(ids))),
    thumbnailsByVideo: new DataLoader((ids) => services.thumbnails.thumbnailsOf(ids)),
  };
}

/** A batch function that takes what a list page already read from `listed` and loads only the rest. */
function orListed<T>(
  listed: Map<string, ListedShelf>,
  pick: (shelf: ListedShelf) => T,
  load: (ids: readonly string[]) => Promise<T[]>,
): (ids: readonly string[]) => Promise<T[]> {
  return async (ids) => {
    const missing = ids.filter((id) => !listed.has(id));
    const loaded = missing.length > 0 ? await load(missing) : [];
    let next = 0;
    return ids.map((id) => {
      const known = listed.get(id);
      return known ? pick(known) : loaded[next++]!;
    });
  };
}

/** `value`, or what it resolves to, passed to `f`: without a wait when the value is at hand. */
export function mapMaybePromise<T, R>(value: T | Promise<T>, f: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/** A shelf a list or event read whole: its files and relations are answered from what was read. */
export function rememberListed(listed: ListedShelf, loaders: Loaders): Shelf {
  loaders.listed.set(listed.shelf.id, listed);
  return listed.shelf;
}
