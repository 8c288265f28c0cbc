import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export interface Closed {
  code: number;
  reason: string;
}

export interface Connection {
  client: Client;
  /** Settles with the close event once the socket closes (for any reason). */
  closed: Promise<Closed>;
  /** Settles once the server acknowledged connection_init. */
  acknowledged: Promise<void>;
  dispose(): Promise<void>;
  /** Drops the TCP connection without a close handshake, as a lost network does. */
  drop(): void;
}

/** A graphql-ws client on the service's /graphql, as Apollo Client or urql would open one. */
export function connect(url: string, connectionParams: Record<string, unknown> = {}, headers: Record<string, string> = {}): Connection {
  let onClosed!: (c: Closed) => void;
  let onAck!: () => void;
  let onFail!: (err: unknown) => void;
  const closed = new Promise<Closed>((r) => (onClosed = r));
  const acknowledged = new Promise<void>((resolve, reject) => {
    onAck = resolve;
    onFail = reject;
  });
  acknowledged.catch(() => {});
  let socket: WebSocket | undefined;
  class WithHeaders extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
      socket = this;
    }
  }
  const client = createClient({
    url: `${url.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WithHeaders,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    on: {
      connected: () => onAck(),
      closed: (event) => {
        const e = event as { code: number; reason: string };
        onClosed({ code: e.code, reason: String(e.reason) });
        onFail(new Error(`closed ${e.code} ${e.reason}`));
      },
      error: (err) => onFail(err),
    },
  });
  return { client, closed, acknowledged, dispose: () => client.dispose() as Promise<void>, drop: () => socket?.terminate() };
}

export interface Result<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
  /** `changedAt`: when the change was written. */
  extensions?: { changedAt?: string };
}

export interface Watch<T> {
  results: Array<Result<T>>;
  /** Settles when the server completes the subscription, or with the error it sent. */
  done: Promise<Array<{ message: string; extensions?: { code?: string } }> | undefined>;
  /** The first result for which `accept` holds, waiting up to `timeoutMs`. */
  until(accept: (result: Result<T>) => boolean, timeoutMs?: number): Promise<Result<T>>;
  stop(): void;
}

/** Subscribes a typed document and keeps every result it gets. */
export function watch<T, V>(connection: Connection, document: TypedDocumentNode<T, V>, variables: V): Watch<T> {
  const results: Array<Result<T>> = [];
  const waiters = new Set<() => void>();
  let finish!: (errors?: Array<{ message: string; extensions?: { code?: string } }>) => void;
  const done = new Promise<Array<{ message: string; extensions?: { code?: string } }> | undefined>((r) => (finish = r));
  const stop = connection.client.subscribe<T>(
    { query: print(document), variables: variables as Record<string, unknown> },
    {
      next: (result) => {
        results.push(result as Result<T>);
        for (const wake of waiters) wake();
      },
      error: (err) => finish(Array.isArray(err) ? err : [{ message: String((err as Error)?.message ?? err) }]),
      complete: () => finish(undefined),
    },
  );
  return {
    results,
    done,
    stop,
    until(accept, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < results.length; seen++) {
            if (accept(results[seen]!)) {
              cleanup();
              return resolve(results[seen]!);
            }
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(results)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Polls `probe` until it returns a value other than undefined. */
export async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
