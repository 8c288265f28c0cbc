import { createHash } from "node:crypto";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient } from "./generated/client.js";
import type { Prisma } from "./generated/client.js";
import type { Listen } from "./notifications.js";

export type { PrismaClient };
/** A statement run by the driver itself: see `Database.query`. */
export type DirectQuery = <T>(statement: Prisma.Sql) => Promise<T[]>;
/** The client handed to a `$transaction` callback. */
export type Transaction = Prisma.TransactionClient;

export interface Database {
  prisma: PrismaClient;
  /**
   * Runs a statement through the driver itself, for the few the service runs all the time (list
   * pages, the making and serving of versions): the ORM's raw-query path cost more CPU than the
   * driver's whole work. Rows are objects with the driver's own parsing (json parsed,
   * timestamps as Dates, bigints as text or numbers); errors are the driver's (a PostgreSQL
   * `code`). On PostgreSQL each statement is prepared once per connection, so use it only for
   * statements of a fixed shape, outside transactions. Counted by onQuery like every other.
   */
  query: DirectQuery;
  /** The adapter factory, for the migration runner. */
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** "embedded" (PGlite in this process) or "postgresql". */
  flavour: "embedded" | "postgresql";
  /**
   * Hears NOTIFY payloads on a channel: on PostgreSQL those of every process, through a
   * connection opened on first use; on the embedded database those of this process.
   */
  listen: Listen;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A postgresql:// URL; without one the embedded database in `embeddedDbDir` is used. */
  databaseUrl?: string;
  embeddedDbDir: string;
  /** Called for every SQL statement sent (tests count them). */
  onQuery?: (sql: string) => void;
  /** Where the embedded database's upkeep reports a failure or a slow round. */
  log?: (message: string) => void;
}

/** Statement names by text; the texts are of a fixed shape (see `Database.query`), so few. */
const statementNames = new Map<string, string>();

/** A name per statement text: pg prepares a named statement once per connection and reuses it. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `s_${createHash("sha256").update(text).digest("base64url")}`;
    statementNames.set(text, name);
  }
  return name;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  let clientAdapter: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let flavour: Database["flavour"];
  let run: (text: string, values: unknown[]) => Promise<unknown[]>;
  let listen: Listen;
  // Each driver is loaded only for the database in use: PGlite alone is tens of MiB of code.
  if (options.databaseUrl) {
    const [{ PrismaPg }, { default: pg }] = await Promise.all([import("@prisma/adapter-pg"), import("pg")]);
    // One pool for the ORM and the direct statements, so these take no connections of their own.
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
    const { postgresListener } = await import("./notifications.js");
    const listener = postgresListener({ connectionString: options.databaseUrl, log: options.log });
    listen = listener.listen;
    closeDriver = async () => {
      await listener.close();
      await pool.end();
    };
    flavour = "postgresql";
  } else {
    const { openEmbedded } = await import("./embedded.js");
    const embedded = await openEmbedded(options.embeddedDbDir, options.log);
    adapterFactory = clientAdapter = embedded.adapterFactory;
    run = embedded.query;
    listen = embedded.listen;
    closeDriver = embedded.close;
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
    async query<T>(statement: Prisma.Sql): Promise<T[]> {
      onQuery?.(statement.text);
      return (await run(statement.text, statement.values)) as T[];
    },
    adapterFactory,
    flavour,
    listen,
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}
