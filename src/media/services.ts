import type { ShelfEvents } from "../events/bus.js";
import type { StorageRegistry } from "../storage/registry.js";
import type { DeletionQueue } from "./deletions.js";
import type { KindRegistry } from "./kinds.js";
import type { ShelfListing } from "./listing.js";
import type { RelationService } from "./relations.js";
import type { ShelfService } from "./shelves.js";
import type { ThumbnailService } from "./thumbnails.js";
import type { VersionService } from "./versions/index.js";

/** The media layer as the layers above see it. */
export interface Services {
  storages: StorageRegistry;
  kinds: KindRegistry;
  shelves: ShelfService;
  relations: RelationService;
  listing: ShelfListing;
  deletions: DeletionQueue;
  versions: VersionService;
  thumbnails: ThumbnailService;
  /** Changes to shelves, from every process sharing the database. */
  events: ShelfEvents;
}
