import type { Viewer } from "../../auth/viewer.js";
import { MediaError } from "../../errors.js";
import type { Services } from "../../media/services.js";

/**
 * The owner whose library an operation on `shelfId` works in: the viewer's own, or, for an
 * admin, the shelf's owner. Everyone else gets NOT_FOUND for another owner's shelf, as if it
 * did not exist.
 */
export async function ownerForShelf(viewer: Viewer, services: Services, shelfId: string): Promise<string> {
  if (!viewer.admin) return viewer.ownerId;
  return (await services.shelves.ownerOf(shelfId)) ?? viewer.ownerId;
}

/** The library an operation may read: one's own, or any for an admin. */
export function libraryFor(viewer: Viewer, ownerId: string): { ownerId: string } {
  if (ownerId !== viewer.ownerId && !viewer.admin) throw new MediaError("FORBIDDEN", "Only admins may read another owner's library");
  return { ownerId };
}
