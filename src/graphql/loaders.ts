import DataLoader from "dataloader";
import type { ShelfRelation } from "../media/relations.js";
import type { MediaFile, Shelf } from "../media/shelves.js";
import type { Services } from "../media/services.js";

/** Per-request batching: however many shelves a page holds, their files cost one query. */
export interface Loaders {
  filesByShelf: DataLoader<string, MediaFile[]>;
  relationsByShelf: DataLoader<string, ShelfRelation[]>;
  shelfById: DataLoader<string, Shelf | null>;
  thumbnailsByVideo: DataLoader<string, Shelf[]>;
}

export function createLoaders(services: Services): Loaders {
  return {
    filesByShelf: new DataLoader((ids) => services.shelves.filesOf(ids)),
    relationsByShelf: new DataLoader((ids) => services.relations.relationsOf(ids)),
    shelfById: new DataLoader((ids) => services.shelves.byIds(ids)),
    thumbnailsByVideo: new DataLoader((ids) => services.thumbnails.thumbnailsOf(ids)),
  };
}
