import { createDatabase, postgresVersion } from "../harness/postgres.js";
import { POSTGRES_ADMIN_URL } from "../harness/settings.js";
import { WITH_POSTGRES } from "./settings.js";

/**
 * Runs `fn` with a database created for it on the PostgreSQL server (dropped after), when
 * BENCH_POSTGRES allows and one answers; says so and skips `fn` when none does.
 */
export async function withPostgresDatabase(fn: (url: string, version: string) => Promise<void>): Promise<void> {
  if (!WITH_POSTGRES) return;
  let version: string;
  try {
    version = await postgresVersion();
  } catch (err) {
    console.log(`  no PostgreSQL answers at ${POSTGRES_ADMIN_URL} (${(err as Error).message}): no PostgreSQL row`);
    return;
  }
  const database = await createDatabase("bench_versions");
  try {
    await fn(database.url, version);
  } finally {
    await database.drop();
  }
}
