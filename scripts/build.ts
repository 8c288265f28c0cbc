import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// Compiles src/ to lib/, one JavaScript module per TypeScript module, for `npm start` and
// `npm run worker`. A service run through the TypeScript loader keeps the transformed source of
// every module it loaded for its whole life (tens of MiB, the embedded database's large module
// most of all); compiled, it starts with that much less. lib/ sits one level below the root as
// src/ does, so paths a module takes relative to itself (schema.graphql, prisma/) resolve alike.
// Types are checked by `npm test` (tsc), not here: this only strips them.
const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = path.join(root, "lib");

const result = await build({
  absWorkingDir: root,
  entryPoints: ["src/**/*.ts"],
  outbase: "src",
  outdir,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  metafile: true,
});

// Modules whose source is gone are removed; the rest are rewritten in place rather than the
// whole directory replaced, so a service already running from lib/ keeps loading its own.
const built = new Set(Object.keys(result.metafile.outputs).map((file) => path.resolve(root, file)));
for (const entry of await fs.readdir(outdir, { recursive: true, withFileTypes: true })) {
  const file = path.join(entry.parentPath, entry.name);
  if (entry.isFile() && !built.has(file)) await fs.rm(file);
}
