import type { ShelfEvent } from "../../events/bus.js";
import { EventStream } from "../../events/stream.js";
import type { ListedShelf } from "../../media/listing.js";
import type { Context } from "../context.js";
import type { Resolvers } from "../generated/resolvers.js";
import { createLoaders, rememberListed } from "../loaders.js";
import { ownerForShelf } from "./scope.js";

/** A queued "read afresh" for a shelf makes a later one for the same shelf needless. */
const sameShelfUpdate = (earlier: ShelfEvent, next: ShelfEvent) =>
  earlier.shelfId === next.shelfId && earlier.change === "UPDATED" && next.change === "UPDATED";

/**
 * The shelf as read for one event, shared by every subscriber the event goes to (the bus hands
 * them all the same object): a thousand subscribers cost one query, not a thousand. Each read
 * happens after the change it reports, so none is older than the event.
 */
const readForEvent = new WeakMap<ShelfEvent, Promise<ListedShelf | null>>();

/**
 * Each event is resolved with loaders of its own: a subscription's context lives as long as the
 * subscription, and loaders that remembered the last event's rows would answer with old data.
 */
function forEvent(event: ShelfEvent, _args: unknown, context: Context): ShelfEvent {
  context.loaders = createLoaders(context.services);
  return event;
}

export const subscriptionResolvers: Resolvers = {
  Subscription: {
    shelfUpdated: {
      subscribe: async (_parent, { id }, { viewer, services }) => {
        const stream = new EventStream<ShelfEvent>({ supersedes: sameShelfUpdate });
        // Listening before the check, so no change between the check and the first event is missed.
        const stop = await services.events.watchShelf(id, (event) => stream.push(event, { last: event.change === "DELETED" }));
        stream.setOnClose(stop);
        try {
          await services.shelves.getOrFail(await ownerForShelf(viewer, services, id), id);
        } catch (err) {
          await stream.return();
          throw err;
        }
        return stream;
      },
      resolve: forEvent,
    },
    libraryUpdated: {
      subscribe: async (_parent, _args, { viewer, services }) => {
        const stream = new EventStream<ShelfEvent>({ supersedes: sameShelfUpdate });
        stream.setOnClose(await services.events.watchLibrary(viewer.ownerId, (event) => stream.push(event)));
        return stream;
      },
      resolve: forEvent,
    },
  },
  ShelfUpdate: {
    change: (event) => event.change,
    shelfId: (event) => event.shelfId,
    // The shelf as it is when the event is sent, with its files in the same statement.
    shelf: async (event, _args, { services, loaders }) => {
      if (event.change === "DELETED") return null;
      let read = readForEvent.get(event);
      if (!read) readForEvent.set(event, (read = services.listing.one(event.ownerId, event.shelfId)));
      const listed = await read;
      if (!listed) return null;
      return rememberListed(listed, loaders);
    },
  },
};
