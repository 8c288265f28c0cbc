import fs from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "./generated/client.js";
import type { Prisma } from "./generated/client.js";

export type { PrismaClient };
/** The client handed to a `$transaction` callback. */
export type Transaction = Prisma.TransactionClient;

export interface Database {
  prisma: PrismaClient;
  /** The adapter factory, for the migration runner. */
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** "embedded" (PGlite in this process) or "postgresql". */
  flavour: "embedded" | "postgresql";
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A postgresql:// URL; without one the embedded database in `embeddedDbDir` is used. */
  databaseUrl?: string;
  embeddedDbDir: string;
  /** Called for every SQL statement sent (tests count them). */
  onQuery?: (sql: string) => void;
}

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

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let flavour: Database["flavour"];
  if (options.databaseUrl) {
    adapterFactory = new PrismaPg({ connectionString: options.databaseUrl });
    closeDriver = async () => {};
    flavour = "postgresql";
  } else {
    await fs.mkdir(options.embeddedDbDir, { recursive: true });
    const pglite = await PGlite.create(options.embeddedDbDir, {
      serializers: { [BYTEA]: byteaToText },
      startParams: EMBEDDED_START_PARAMS,
    });
    adapterFactory = new PrismaPGlite(withFastByteaReads(pglite));
    closeDriver = () => pglite.close();
    flavour = "embedded";
  }
  const prisma = new PrismaClient({
    adapter: adapterFactory,
    log: options.onQuery ? [{ emit: "event", level: "query" }] : [],
  });
  if (options.onQuery) {
    const onQuery = options.onQuery;
    (prisma as unknown as { $on(e: "query", cb: (ev: { query: string }) => void): void }).$on("query", (ev) => onQuery(ev.query));
  }
  return {
    prisma,
    adapterFactory,
    flavour,
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}
