import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { onCleanup } from "../harness/lifecycle.js";

/** The subscribers: graphql-ws connections from this process, each timing every event it receives. */

export const SUBSCRIPTION = `subscription { libraryUpdated { change shelfId shelf { id files { preset status progress } } } }`;
/** Connections opened at once. */
const BATCH = 100;

export interface Received {
  /** From the worker's write (the event's extensions.changedAt) to its receipt here. */
  latencyMs: number;
  /** The shelf has its original and every version READY. */
  done: boolean;
  /** "<change> <status>/<status>…", for latency by event kind. */
  kind: string;
}

export interface Subscribers {
  count: number;
  received: Received[];
  /** The first error any subscription reported, or an event without a usable changedAt. */
  failure?: Error;
  /** Closes every connection (also done on any exit). */
  dispose(): Promise<void>;
}

interface LibraryUpdated {
  change: string;
  shelf?: { files: Array<{ status: string }> } | null;
}

/** A close event (code and reason) or GraphQL errors, as a subscription reports them. */
function describe(err: unknown): string {
  const close = err as { code?: unknown; reason?: unknown };
  if (typeof close.code === "number") return `connection closed ${close.code} ${String(close.reason ?? "")}`.trim();
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/** Opens `count` connections to `<base>/graphql`, BATCH at a time, each subscribed to SUBSCRIPTION. */
export async function connectSubscribers(base: string, count: number): Promise<Subscribers> {
  const clients: Client[] = [];
  const dispose = onCleanup("subscribers", async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });
  const subscribers: Subscribers = { count: 0, received: [], dispose };
  const fail = (err: Error) => {
    subscribers.failure ??= err;
  };
  const connectOne = () =>
    new Promise<void>((resolve, reject) => {
      const url = `${base.replace(/^http/, "ws")}/graphql`;
      const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: reject, on: { connected: () => resolve() } });
      clients.push(client);
      client.subscribe(
        { query: SUBSCRIPTION },
        {
          next: (result) => {
            const receivedAt = Date.now();
            const changedAt = Date.parse(String((result.extensions as { changedAt?: unknown } | undefined)?.changedAt));
            if (Number.isNaN(changedAt)) return fail(new Error(`an event without extensions.changedAt: ${JSON.stringify(result)}`));
            const update = (result.data as { libraryUpdated: LibraryUpdated }).libraryUpdated;
            const files = update.shelf?.files ?? [];
            subscribers.received.push({
              latencyMs: receivedAt - changedAt,
              done: files.length > 1 && files.every((f) => f.status === "READY"),
              kind: `${update.change} ${files.map((f) => f.status).join("/")}`,
            });
          },
          error: (err) => fail(err instanceof Error ? err : new Error(`subscription error: ${describe(err)}`)),
          complete: () => {},
        },
      );
      subscribers.count++;
    });
  for (let i = 0; i < count; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, connectOne));
  return subscribers;
}
