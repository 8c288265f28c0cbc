import fs from "node:fs/promises";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// Builds the client kit (client/dist): one ESM bundle that runs in browsers and Node (graphql-ws
// and graphql's printer inside; `ws` left to be loaded in Node 20, which has no WebSocket), the
// codegen settings, the persisted-operations manifest and the type declarations. Needs the
// generated documents (`npm run generate`) first. `--no-types` skips the declarations (slow part).
const root = fileURLToPath(new URL("..", import.meta.url));
const clientDir = path.join(root, "client");
const dist = path.join(clientDir, "dist");

export async function buildClient(options: { types?: boolean } = {}): Promise<string> {
  await fs.access(path.join(clientDir, "src/generated/graphql.ts")).catch(() => {
    throw new Error("client/src/generated/ is missing: run `npm run generate` first");
  });
  await fs.rm(dist, { recursive: true, force: true });
  await build({
    absWorkingDir: clientDir,
    entryPoints: ["src/index.ts", "src/codegen.ts"],
    outdir: dist,
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["import", "module"],
    target: ["es2022"],
    external: ["ws"],
    minify: false,
    logLevel: "warning",
  });
  await fs.copyFile(path.join(clientDir, "src/generated/persisted-documents.json"), path.join(dist, "persisted-documents.json"));
  if (options.types !== false) {
    execFileSync(path.join(root, "node_modules/.bin/tsc"), ["-p", path.join(clientDir, "tsconfig.json")], { stdio: "inherit" });
  }
  return dist;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildClient({ types: !process.argv.includes("--no-types") });
  console.log("built client/dist");
}
