import fs from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { Listen } from "./notifications.js";
import { EmbeddedVacuum } from "./vacuum.js";

/** How often the embedded database is vacuumed: see EmbeddedVacuum. */
const VACUUM_INTERVAL_MS = 5 * 60_000;

/** PostgreSQL's type id of bytea. */
const BYTEA = 17;

/**
 * Blobs (the database storage backend's chunks) cross the PGlite boundary as hex text. The
 * stock conversions go a byte at a time through strings, a few MiB/s; Buffer's hex codec does
 * the same work natively.
 */
function byteaToText(value: Uint8Array): string {
  return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
}

/**
 * PostgreSQL's stock shared_buffers (128 MB) is sized for a server with many backends sharing
 * one cache. PGlite is a single backend in this process whose WebAssembly mmap zero-fills the
 * whole buffer pool at start, so those 128 MB were resident from the first query on. Our files
 * sit in the OS page cache anyway; 16 MB holds the catalogs and the hot rows of a media library
 * with room to spare. wal_buffers follows shared_buffers (1/32) unless set.
 */
const EMBEDDED_START_PARAMS = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"];

/** The adapter passes its own (slow) bytea parser with every query; this swaps in a native one. */
function withFastByteaReads(pglite: PGlite): PGlite {
  const parseBytea = (text: string) => Buffer.from(text.slice(2), "hex");
  return new Proxy(pglite, {
    get(target, property) {
      if (property === "query") {
        return (sql: string, params?: unknown[], opts?: Parameters<PGlite["query"]>[2]) =>
          target.query(sql, params, { ...opts, parsers: { ...opts?.parsers, [BYTEA]: parseBytea } });
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export interface Embedded {
  /** The database as a Prisma driver adapter. */
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** A statement run by PGlite itself, rows as objects with its own parsing. */
  query(text: string, values: unknown[]): Promise<unknown[]>;
  /** Hears NOTIFY payloads sent by this database (so, by this process). */
  listen: Listen;
  /** The upkeep that runs every few minutes (VACUUM, and ANALYZE where due), now. */
  vacuum(): Promise<void>;
  close(): Promise<void>;
}

/** The embedded database in `dir` (created on first use), vacuumed every few minutes while it is open. */
export async function openEmbedded(dir: string, log: (message: string) => void = () => {}): Promise<Embedded> {
  await fs.mkdir(dir, { recursive: true });
  const pglite = await PGlite.create(dir, {
    serializers: { [BYTEA]: byteaToText },
    startParams: EMBEDDED_START_PARAMS,
  });
  const upkeep = new EmbeddedVacuum(async (sql) => (await pglite.query<Record<string, unknown>>(sql)).rows, VACUUM_INTERVAL_MS, log);
  upkeep.start();
  return {
    adapterFactory: new PrismaPGlite(withFastByteaReads(pglite)),
    query: async (text, values) => (await pglite.query(text, values)).rows,
    listen: async (channel, onPayload) => {
      const unlisten = await pglite.listen(channel, onPayload);
      return () => unlisten();
    },
    vacuum: () => upkeep.run(),
    async close() {
      await upkeep.stop();
      await pglite.close();
    },
  };
}
