import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "./generated/client.js";
import type { Prisma } from "./generated/client.js";

export type { PrismaClient };
/** The client handed to a `$transaction` callback. */
export type Transaction = Prisma.TransactionClient;

export interface Database {
  prisma: PrismaClient;
  /**
   * Runs a read through the driver itself, for the few statements the service runs all the
   * time (the list pages): the ORM's raw-query path cost more CPU than the driver's whole work.
   * Rows are objects with the driver's own parsing (json parsed, timestamps as Dates). On
   * PostgreSQL each statement is prepared once per connection, so use it only for statements
   * of a fixed shape. Counted by onQuery like every other statement.
   */
  read<T>(statement: Prisma.Sql): Promise<T[]>;
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

/** A name per statement text: pg prepares a named statement once per connection and reuses it. */
function statementName(text: string): string {
  return `read_${createHash("sha256").update(text).digest("base64url")}`;
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
  let clientAdapter: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let flavour: Database["flavour"];
  let run: (text: string, values: unknown[]) => Promise<unknown[]>;
  if (options.databaseUrl) {
    // One pool for the ORM and the direct reads, so the reads take no connections of their own.
    const pool = new pg.Pool({ connectionString: options.databaseUrl });
    // An idle connection that drops leaves the pool, which opens another when asked; as with
    // the adapter's own pool, that must not take the process down (its listener comes and goes
    // with the client's connection).
    pool.on("error", () => {});
    clientAdapter = new PrismaPg(pool);
    // Migrations keep a pool of their own: the migration lock is held by a session, and is let go
    // when that pool ends, not when its connection goes back to a shared pool.
    adapterFactory = new PrismaPg({ connectionString: options.databaseUrl });
    run = async (text, values) => (await pool.query({ name: statementName(text), text, values })).rows;
    closeDriver = () => pool.end();
    flavour = "postgresql";
  } else {
    await fs.mkdir(options.embeddedDbDir, { recursive: true });
    const pglite = await PGlite.create(options.embeddedDbDir, { serializers: { [BYTEA]: byteaToText } });
    adapterFactory = new PrismaPGlite(withFastByteaReads(pglite));
    clientAdapter = adapterFactory;
    run = async (text, values) => (await pglite.query(text, values)).rows;
    closeDriver = () => pglite.close();
    flavour = "embedded";
  }
  const prisma = new PrismaClient({
    adapter: clientAdapter,
    log: options.onQuery ? [{ emit: "event", level: "query" }] : [],
  });
  const onQuery = options.onQuery;
  if (onQuery) {
    (prisma as unknown as { $on(e: "query", cb: (ev: { query: string }) => void): void }).$on("query", (ev) => onQuery(ev.query));
  }
  return {
    prisma,
    async read<T>(statement: Prisma.Sql): Promise<T[]> {
      onQuery?.(statement.text);
      return (await run(statement.text, statement.values)) as T[];
    },
    adapterFactory,
    flavour,
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}
