import type { Listen, Unlisten } from "../db/notifications.js";

/** The channel the database's triggers announce shelf changes on (see the migration). */
export const SHELF_CHANGES_CHANNEL = "shelf_changes";

export type ShelfChange = "CREATED" | "UPDATED" | "DELETED";

/** "This shelf changed": listeners read the shelf afresh to see how. */
export interface ShelfEvent {
  change: ShelfChange;
  shelfId: string;
  ownerId: string;
  /** When the writing transaction began, in ms since the epoch: for latency figures. */
  writtenAt: number;
}

export type ShelfListener = (event: ShelfEvent) => void;

/** A notice as the triggers send it. */
interface Notice {
  s: string;
  o: string;
  c: ShelfChange;
  /** A poster frame's video, while it exists. */
  p?: string | null;
  /** True for a poster frame. */
  f?: boolean;
  t: number;
}

export interface ShelfEventsOptions {
  /** Least time between two UPDATED events of one shelf; the latest is delivered at the end of it. */
  coalesceMs?: number;
  log?: (message: string) => void;
}

interface Pending {
  timer: NodeJS.Timeout;
  latest?: ShelfEvent;
  toLibrary: boolean;
}

/**
 * One bus for "a shelf changed". Changes come from the database's notices, so writes by any
 * process are heard; listeners register per shelf or per owner's library. The database is
 * listened to from the first registration on.
 *
 * A poster frame's changes are its own shelf's, and its video's UPDATED (in the video's shelf
 * and in the library, where poster frames are not listed themselves).
 *
 * UPDATED events are coalesced per shelf: the first is delivered at once, later ones at most once
 * per `coalesceMs`, and the last always (progress is written about once a second per version, but
 * several versions or poster frames of one shelf add up).
 */
export class ShelfEvents {
  private readonly byShelf = new Map<string, Set<ShelfListener>>();
  private readonly byOwner = new Map<string, Set<ShelfListener>>();
  private readonly pending = new Map<string, Pending>();
  private readonly coalesceMs: number;
  private started: Promise<Unlisten> | undefined;
  private closed = false;

  constructor(
    private readonly listen: Listen,
    private readonly options: ShelfEventsOptions = {},
  ) {
    this.coalesceMs = options.coalesceMs ?? 250;
  }

  /** Calls `listener` for each change to one shelf, once the returned promise settles. */
  watchShelf(shelfId: string, listener: ShelfListener): Promise<() => void> {
    return this.register(this.byShelf, shelfId, listener);
  }

  /** Calls `listener` for each change to an owner's shelves. */
  watchLibrary(ownerId: string, listener: ShelfListener): Promise<() => void> {
    return this.register(this.byOwner, ownerId, listener);
  }

  /** Listeners registered now (shelves and libraries): a dropped subscriber must leave none. */
  listenerCount(): number {
    let count = 0;
    for (const set of this.byShelf.values()) count += set.size;
    for (const set of this.byOwner.values()) count += set.size;
    return count;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.byShelf.clear();
    this.byOwner.clear();
    const unlisten = await this.started?.catch(() => undefined);
    await unlisten?.();
  }

  private async register(map: Map<string, Set<ShelfListener>>, key: string, listener: ShelfListener): Promise<() => void> {
    if (this.closed) throw new Error("The event bus is closed");
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(listener);
    let registered = true;
    const remove = () => {
      if (!registered) return;
      registered = false;
      set.delete(listener);
      if (set.size === 0 && map.get(key) === set) map.delete(key);
    };
    try {
      await this.start();
    } catch (err) {
      remove();
      throw err;
    }
    return remove;
  }

  private start(): Promise<Unlisten> {
    this.started ??= this.listen(SHELF_CHANGES_CHANNEL, (payload) => this.receive(payload)).catch((err) => {
      // Let the next registration try again.
      this.started = undefined;
      throw err;
    });
    return this.started;
  }

  private receive(payload: string): void {
    let notice: Notice;
    try {
      notice = JSON.parse(payload) as Notice;
    } catch {
      this.options.log?.("a shelf change notice was not JSON; ignored");
      return;
    }
    const own = { change: notice.c, shelfId: notice.s, ownerId: notice.o, writtenAt: Number(notice.t) };
    this.route(own, !notice.f);
    if (notice.p) this.route({ ...own, change: "UPDATED", shelfId: notice.p }, true);
  }

  /** Delivers now, or coalesced for UPDATED; `toLibrary` also tells the owner's library listeners. */
  private route(event: ShelfEvent, toLibrary: boolean): void {
    if (!this.byShelf.has(event.shelfId) && !(toLibrary && this.byOwner.has(event.ownerId))) return;
    const pending = this.pending.get(event.shelfId);
    if (event.change !== "UPDATED") {
      // CREATED and DELETED go at once; an UPDATED still waiting is outdated by them.
      if (pending) {
        clearTimeout(pending.timer);
        this.pending.delete(event.shelfId);
      }
      this.deliver(event, toLibrary);
      return;
    }
    if (pending) {
      pending.latest = event;
      return;
    }
    this.deliver(event, toLibrary);
    this.holdBack(event.shelfId, toLibrary);
  }

  /** Starts a quiet period for a shelf; what arrives in it goes out at its end. */
  private holdBack(shelfId: string, toLibrary: boolean): void {
    const entry: Pending = {
      toLibrary,
      timer: setTimeout(() => {
        this.pending.delete(shelfId);
        if (entry.latest) {
          this.deliver(entry.latest, entry.toLibrary);
          this.holdBack(shelfId, entry.toLibrary);
        }
      }, this.coalesceMs),
    };
    entry.timer.unref();
    this.pending.set(shelfId, entry);
  }

  private deliver(event: ShelfEvent, toLibrary: boolean): void {
    for (const listener of this.byShelf.get(event.shelfId) ?? []) listener(event);
    if (toLibrary) for (const listener of this.byOwner.get(event.ownerId) ?? []) listener(event);
  }
}
