// Fails when prisma/migrations does not build the database prisma/schema.prisma describes, so a
// schema change cannot land without its migration.
import { diffMigrationsToSchema } from "../src/db/migrate.js";
import { openScratchPGlite } from "../src/db/scratch.js";

// The engine replays the migrations on the factory's shadow database; in-memory PGlite needs no server.
const scratch = openScratchPGlite();
let diff: Awaited<ReturnType<typeof diffMigrationsToSchema>>;
try {
  diff = await diffMigrationsToSchema(scratch.factory);
} finally {
  await scratch.close();
}

if (diff.empty) {
  console.log("migrations match prisma/schema.prisma");
} else {
  console.error("prisma/migrations does not match prisma/schema.prisma. The missing SQL is:\n");
  console.error(diff.sql.trimEnd().replace(/^(?=.)/gm, "    "));
  console.error("\nCreate the migration with: npm run db:new-migration -- <name>");
  process.exitCode = 1;
}
