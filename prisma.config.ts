import { defineConfig } from "prisma/config";

// Only `prisma generate` reads this file; the service connects through driver adapters
// (src/db/client.ts) and applies migrations with its own runner (src/db/migrate.ts).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
