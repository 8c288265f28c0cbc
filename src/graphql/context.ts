import type { Viewer } from "../auth/viewer.js";
import type { Services } from "../media/services.js";
import type { Shelf } from "../media/shelves.js";
import type { Loaders } from "./loaders.js";

/** What every resolver gets: who is asking, the services, and this request's loaders. */
export interface Context {
  viewer: Viewer;
  services: Services;
  loaders: Loaders;
}

/** An edge of a page; its cursor is made from the node when asked for. */
export interface ShelfEdgeParent {
  node: Shelf;
}

/** Viewer and Library resolve from the owner alone. */
export interface LibraryParent {
  ownerId: string;
  admin?: boolean;
}

/** A page of shelves; its total is counted only when the field is selected. */
export interface ShelfConnectionParent {
  edges: ShelfEdgeParent[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: () => Promise<number>;
}

export interface DeleteShelfResult {
  id: string;
  deletedFiles: number;
}
