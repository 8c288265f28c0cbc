// Fails when src/ has an import cycle or a hand-written module over MAX_LINES lines: small modules
// that only import downward are what keeps the layers (http → graphql → media → db, storage,
// transcode, jobs) readable. Generated code is left out; it is not written by hand.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import madge from "madge";

const MAX_LINES = 300;
const root = fileURLToPath(new URL("..", import.meta.url));
const src = path.join(root, "src");
const GENERATED = /(^|\/)generated\//;

/** Every cycle madge finds, each as its modules in import order, relative to src/. */
async function cycles(skipTypeImports: boolean): Promise<string[][]> {
  const result = await madge(src, {
    fileExtensions: ["ts"],
    tsConfig: path.join(root, "tsconfig.json"),
    excludeRegExp: [GENERATED],
    detectiveOptions: { ts: { skipTypeImports }, es6: { skipTypeImports } },
  });
  return result.circular();
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => path.relative(src, path.join(entry.parentPath, entry.name)))
    .filter((file) => !GENERATED.test(file))
    .sort();
}

function lineCount(file: string): number {
  const text = readFileSync(path.join(src, file), "utf8");
  return text.length === 0 ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

let failed = false;

// A cycle through type imports only costs nothing at run time but still ties two layers together,
// so it counts too; it is labelled so the reader knows which kind to untie.
const every = await cycles(false);
const atRunTime = new Set((await cycles(true)).map((cycle) => cycle.join(" → ")));
if (every.length === 0) {
  console.log("no import cycle in src/");
} else {
  failed = true;
  console.error(`${every.length} import cycle(s) in src/:`);
  for (const cycle of every) {
    const chain = cycle.join(" → ");
    console.error(`  ${chain} → ${cycle[0]}${atRunTime.has(chain) ? "" : "   (type imports only)"}`);
  }
}

const files = sourceFiles(src);
const tooLong = files.map((file) => ({ file, lines: lineCount(file) })).filter((f) => f.lines > MAX_LINES);
if (tooLong.length === 0) {
  console.log(`no module in src/ over ${MAX_LINES} lines (${files.length} modules)`);
} else {
  failed = true;
  console.error(`${tooLong.length} module(s) in src/ over ${MAX_LINES} lines:`);
  for (const { file, lines } of tooLong.sort((a, b) => b.lines - a.lines)) console.error(`  ${String(lines).padStart(5)}  src/${file}`);
}

process.exitCode = failed ? 1 : 0;
