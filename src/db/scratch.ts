import { PGlite } from "@electric-sql/pglite";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaPGlite } from "pglite-prisma-adapter";

/**
 * A throwaway in-memory database for `diffMigrationsToSchema`. PrismaPGlite's own shadow database
 * is a PGlite it never closes, whose pending 10 s timer then holds the process open; here the
 * engine's dispose of the shadow closes it. Kept out of migrate.ts, which the service loads on
 * PostgreSQL too: only the development scripts need it.
 */
export function openScratchPGlite(): { factory: SqlMigrationAwareDriverAdapterFactory; close(): Promise<void> } {
  const pglite = new PGlite();
  const main = new PrismaPGlite(pglite);
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: () => main.connect(),
    async connectToShadowDb() {
      const shadow = new PGlite();
      const adapter = await new PrismaPGlite(shadow).connect();
      return Object.assign(adapter, { dispose: () => shadow.close() });
    },
  };
  return { factory, close: () => pglite.close() };
}
