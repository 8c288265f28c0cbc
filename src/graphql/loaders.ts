import DataLoader from "dataloader";
import type { MediaFile } from "../media/shelves.js";
import type { Services } from "../media/services.js";

/** Per-request batching: however many shelves a page holds, their files cost one query. */
export interface Loaders {
  filesByShelf: DataLoader<string, MediaFile[]>;
}

export function createLoaders(services: Services): Loaders {
  return {
    filesByShelf: new DataLoader((ids) => services.shelves.filesOf(ids)),
  };
}
