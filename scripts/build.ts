import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildGraphiqlAssets, graphiqlAssetsFresh, GRAPHIQL_OUT_DIR } from "./graphiql-assets.js";

// Compiles src/ to lib/, one JavaScript module per TypeScript module, for `npm start` and
// `npm run worker` (run on install and before each of them). A service run through the
// TypeScript loader keeps the transformed source of every module it loaded for its whole life
// (tens of MiB, the embedded database's large module most of all); compiled, it starts with that
// much less. lib/ sits one level below the root as src/ does, so paths a module takes relative
// to itself (schema.graphql, prisma/) resolve alike. Types are checked by `npm test` (tsc), not
// here: this only strips them. The in-browser IDE is bundled into lib/graphiql/ alongside.
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
  write: false,
});

// Only modules whose output changed are written, each to a temporary name renamed over the old
// one: a service starting or running beside this build (npm start and npm run worker started
// together) reads either the old module or the new one, never half of one.
const built = new Set<string>();
let written = 0;
for (const file of result.outputFiles) {
  built.add(file.path);
  const current = await fs.readFile(file.path).catch(() => undefined);
  if (current?.equals(file.contents)) continue;
  await fs.mkdir(path.dirname(file.path), { recursive: true });
  const temp = `${file.path}.${randomBytes(6).toString("hex")}.tmp`;
  await fs.writeFile(temp, file.contents);
  await fs.rename(temp, file.path);
  written++;
}
// Modules whose source is gone go too (nothing imports them any more); the IDE's folder keeps its own.
for (const entry of await fs.readdir(outdir, { recursive: true, withFileTypes: true })) {
  const file = path.join(entry.parentPath, entry.name);
  if (file.startsWith(GRAPHIQL_OUT_DIR + path.sep)) continue;
  if (entry.isFile() && !built.has(file) && !file.endsWith(".tmp")) await fs.rm(file, { force: true });
}
if (written > 0) console.log(`built lib/: ${written} of ${built.size} modules changed`);

if (!(await graphiqlAssetsFresh())) {
  const ide = await buildGraphiqlAssets();
  if (ide.written > 1) console.log(`built lib/graphiql/: ${ide.written - 1} files changed`);
}
