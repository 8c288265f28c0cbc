// Writes the next migration: the SQL that takes a database built from prisma/migrations to
// prisma/schema.prisma. Usage: npm run db:new-migration -- <name>
import { access, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { diffMigrationsToSchema, migrationLockToml, migrationsDir, projectRoot } from "../src/db/migrate.js";
import { openScratchPGlite } from "../src/db/scratch.js";

const rawName = process.argv.slice(2).join(" ");
const name = rawName.trim().replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
if (!name) {
  console.error("usage: npm run db:new-migration -- <name>");
  process.exit(2);
}

// Replaying the history needs a database of its own; an in-memory PGlite needs no server.
const scratch = openScratchPGlite();
let diff: Awaited<ReturnType<typeof diffMigrationsToSchema>>;
try {
  diff = await diffMigrationsToSchema(scratch.factory);
} finally {
  await scratch.close();
}

const relative = (p: string) => path.relative(projectRoot, p);
if (diff.empty) {
  console.log(`prisma/schema.prisma already matches ${relative(migrationsDir)}; no migration written`);
} else {
  // UTC, like Prisma's own names, so the order does not depend on who wrote the migration where.
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
  const dir = path.join(migrationsDir, `${stamp}_${name}`);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, "migration.sql");
  await writeFile(file, diff.sql, { flag: "wx" });
  console.log(`wrote ${relative(file)}`);
  const lockfile = path.join(migrationsDir, "migration_lock.toml");
  const hasLockfile = await access(lockfile).then(() => true, () => false);
  if (!hasLockfile) {
    await writeFile(lockfile, migrationLockToml);
    console.log(`wrote ${relative(lockfile)}`);
  }
  console.log("review it, then apply it with npm run db:migrate");
}
