import pg from "pg";
import { onCleanup } from "./lifecycle.js";
import { POSTGRES_ADMIN_URL } from "./settings.js";

/** Throwaway databases on the PostgreSQL server, created for one measurement and dropped after it. */

/** Runs `sql` on the server's admin database; the first column of the first row, if any. */
export async function adminQuery(sql: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, unknown>>(sql);
    const first = rows[0];
    return first ? String(Object.values(first)[0]) : undefined;
  } finally {
    await client.end();
  }
}

/** The server's version, e.g. "15.8"; fails when no server answers. */
export async function postgresVersion(): Promise<string> {
  return (await adminQuery("SHOW server_version"))?.split(" ")[0] ?? "?";
}

export interface ThrowawayDatabase {
  url: string;
  /** Drops it now (WITH (FORCE): connections still open are cut); also done on any exit. */
  drop(): Promise<void>;
}

/** A database of its own, `<prefix>_<pid>_<random>`, dropped on every exit path if not before. */
export async function createDatabase(prefix: string): Promise<ThrowawayDatabase> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const drop = onCleanup(`database ${name}`, async () => {
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop };
}
