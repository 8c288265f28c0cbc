import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// Bundles the in-browser IDE (web/graphiql/: GraphiQL, React, the graphql-ws client, all from
// node_modules) into lib/graphiql/: one script and one style sheet whose names carry a hash of
// their content, so the service can let browsers cache them for a year, and a manifest naming
// them for the page. Nothing is fetched from anywhere at build or run time.
const root = fileURLToPath(new URL("..", import.meta.url));
export const GRAPHIQL_OUT_DIR = path.join(root, "lib", "graphiql");

export interface GraphiqlManifest {
  script: string;
  style: string;
}

/** What a build read, and when: the next build is skipped while none of it has changed. */
interface BuiltFrom {
  builtAt: number;
  /** Paths relative to the repository, as the bundler names them. */
  inputs: string[];
}
const SOURCES_FILE = "sources.json";

/**
 * Whether the IDE's files in `outdir` were built from the sources as they are now: `npm start`
 * and `npm run worker` build before they run, and bundling the IDE afresh would cost a second
 * each time.
 */
export async function graphiqlAssetsFresh(outdir = GRAPHIQL_OUT_DIR): Promise<boolean> {
  try {
    const built = JSON.parse(await fs.readFile(path.join(outdir, SOURCES_FILE), "utf8")) as BuiltFrom;
    const manifest = JSON.parse(await fs.readFile(path.join(outdir, "manifest.json"), "utf8")) as GraphiqlManifest;
    await Promise.all([manifest.script, manifest.style].map((name) => fs.access(path.join(outdir, name))));
    const times = await Promise.all(built.inputs.map(async (input) => (await fs.stat(path.join(root, input))).mtimeMs));
    return times.every((mtime) => mtime <= built.builtAt);
  } catch {
    return false; // never built, or an input is gone: build
  }
}

/** Builds the IDE's files; returns the manifest and how many files changed on disk. */
export async function buildGraphiqlAssets(outdir = GRAPHIQL_OUT_DIR): Promise<{ manifest: GraphiqlManifest; written: number }> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { graphiql: "web/graphiql/main.tsx" },
    entryNames: "[name]-[hash]",
    outdir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome111", "firefox115", "safari16.4"],
    jsx: "automatic",
    minify: true,
    // React and the libraries around it leave their development checks out only when told so.
    define: { "process.env.NODE_ENV": '"production"' },
    legalComments: "linked",
    logLevel: "warning",
    metafile: true,
    write: false,
  });

  const outputs = Object.keys(result.metafile.outputs);
  const named = (ext: string) => {
    const found = outputs.find((file) => file.endsWith(ext));
    if (!found) throw new Error(`the GraphiQL build made no ${ext} file`);
    return path.basename(found);
  };
  const manifest: GraphiqlManifest = { script: named(".js"), style: named(".css") };

  await fs.mkdir(outdir, { recursive: true });
  let written = 0;
  const sources: BuiltFrom = { builtAt: Date.now(), inputs: Object.keys(result.metafile.inputs) };
  const files = [
    ...result.outputFiles.map((f) => ({ path: f.path, contents: f.contents })),
    { path: path.join(outdir, SOURCES_FILE), contents: new TextEncoder().encode(JSON.stringify(sources)) },
    // Written last: a running service reads either the old manifest or one whose files exist.
    { path: path.join(outdir, "manifest.json"), contents: new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`) },
  ];
  for (const file of files) {
    const current = await fs.readFile(file.path).catch(() => undefined);
    if (current?.equals(file.contents)) continue;
    const temp = `${file.path}.${randomBytes(6).toString("hex")}.tmp`;
    await fs.writeFile(temp, file.contents);
    await fs.rename(temp, file.path);
    written++;
  }
  // Files of earlier builds go: their names (hashes) are no longer in any page.
  const keep = new Set(files.map((f) => path.basename(f.path)));
  for (const name of await fs.readdir(outdir)) {
    if (!keep.has(name) && !name.endsWith(".tmp")) await fs.rm(path.join(outdir, name), { force: true });
  }
  return { manifest, written };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { written } = await buildGraphiqlAssets();
  if (written > 0) console.log(`built lib/graphiql/: ${written} files changed`);
}
