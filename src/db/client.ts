import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
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

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let flavour: Database["flavour"];
  // Each driver is loaded only for the database in use: PGlite alone is tens of MiB of code.
  if (options.databaseUrl) {
    const { PrismaPg } = await import("@prisma/adapter-pg");
    adapterFactory = new PrismaPg({ connectionString: options.databaseUrl });
    closeDriver = async () => {};
    flavour = "postgresql";
  } else {
    const { openEmbedded } = await import("./embedded.js");
    ({ adapterFactory, close: closeDriver } = await openEmbedded(options.embeddedDbDir));
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
