import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { Prisma, PrismaClient } from "./generated/client.js";

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

/** What starts a statement that PostgreSQL should keep prepared: see PREPARED. */
const PREPARED_MARK = "/* prepared */ ";

/**
 * Put first in a statement the service runs all the time (the list pages): on PostgreSQL the
 * driver prepares it once per connection, under a name made from its text, and later runs send
 * neither the text nor have it parsed and planned again. Only marked statements are kept that
 * way, so the prepared set stays as small as the marked statements' variants; the embedded
 * database ignores the mark (it is a comment).
 */
export const PREPARED = Prisma.raw(PREPARED_MARK);

/**
 * Names for marked statements (see PREPARED). The others get none: the adapter passes the name
 * on to pg as it is, and pg runs a statement without a name unprepared.
 */
function preparedStatementName({ sql }: { sql: string }): string | undefined {
  return sql.startsWith(PREPARED_MARK) ? `prepared_${createHash("sha256").update(sql).digest("base64url")}` : undefined;
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
  let closeDriver: () => Promise<void>;
  let flavour: Database["flavour"];
  if (options.databaseUrl) {
    adapterFactory = new PrismaPg(
      { connectionString: options.databaseUrl },
      // Declared as always naming; see preparedStatementName for why none is fine.
      { statementNameGenerator: preparedStatementName as (query: { sql: string }) => string },
    );
    closeDriver = async () => {};
    flavour = "postgresql";
  } else {
    await fs.mkdir(options.embeddedDbDir, { recursive: true });
    const pglite = await PGlite.create(options.embeddedDbDir, { serializers: { [BYTEA]: byteaToText } });
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
