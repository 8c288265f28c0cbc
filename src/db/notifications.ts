import pg from "pg";

/** Stops listening. */
export type Unlisten = () => Promise<void>;

/** Hears the NOTIFY payloads sent on a channel, by any process, after their transaction commits. */
export type Listen = (channel: string, onPayload: (payload: string) => void) => Promise<Unlisten>;

export interface ListenerOptions {
  connectionString: string;
  log?: (message: string) => void;
  /** First wait before reconnecting; doubled per failure up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * LISTEN on PostgreSQL through one connection of its own (a pooled connection would be handed to
 * other statements, and LISTEN belongs to a session). A dropped connection is reopened with
 * backoff and every channel listened to again; notices sent while it was down are lost.
 */
export function postgresListener(options: ListenerOptions): { listen: Listen; close(): Promise<void> } {
  const log = options.log ?? (() => {});
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let backoff = options.backoffMs ?? 250;
  let closed = false;

  const quoted = (channel: string) => `"${channel.replace(/"/g, '""')}"`;

  async function open(): Promise<pg.Client> {
    const next = new pg.Client({ connectionString: options.connectionString });
    next.on("notification", (message) => {
      for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? "");
    });
    next.on("error", () => reconnectLater(next));
    next.on("end", () => reconnectLater(next));
    await next.connect();
    for (const channel of handlers.keys()) await next.query(`LISTEN ${quoted(channel)}`);
    backoff = options.backoffMs ?? 250;
    client = next;
    return next;
  }

  function connection(): Promise<pg.Client> {
    if (client) return Promise.resolve(client);
    connecting ??= open().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  function reconnectLater(lost: pg.Client): void {
    if (closed || (client && client !== lost) || retry) return;
    client = undefined;
    lost.end().catch(() => {});
    log(`notification listener lost its connection; reconnecting in ${backoff} ms`);
    retry = setTimeout(() => {
      retry = undefined;
      connection().catch(() => {
        // open() failed before it had a client to watch; try again later.
        reconnectLater(lost);
      });
    }, backoff);
    retry.unref();
    backoff = Math.min(backoff * 2, options.maxBackoffMs ?? 10_000);
  }

  return {
    async listen(channel, onPayload) {
      let set = handlers.get(channel);
      const first = !set;
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(onPayload);
      const unlisten = async () => {
        set.delete(onPayload);
        if (set.size > 0 || handlers.get(channel) !== set) return;
        handlers.delete(channel);
        await client?.query(`UNLISTEN ${quoted(channel)}`).catch(() => {});
      };
      try {
        // A new client LISTENs to every known channel as it opens; an open one is told of a new channel.
        const hadClient = Boolean(client);
        const c = await connection();
        if (first && hadClient) await c.query(`LISTEN ${quoted(channel)}`);
      } catch (err) {
        // The caller may try again; a handler left behind would hear every notice twice then.
        await unlisten();
        throw err;
      }
      return unlisten;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      handlers.clear();
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
