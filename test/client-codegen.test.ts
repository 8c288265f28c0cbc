import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generate } from "@graphql-codegen/cli";
import { buildClient } from "../scripts/build-client.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));

/** A frontend's own operations, touching every custom scalar. */
const FRONTEND_DOCUMENT = `
query FrontendShelf($id: ID!) {
  shelf(id: $id) { id createdAt original { size checksum } }
}
mutation FrontendUpload($file: Upload!) {
  uploadShelf(input: { file: $file }) { id updatedAt }
}
`;

/** Compiles only if no custom scalar came out `unknown` or `any`, and each is the type client teams expect. */
const TYPE_CHECK = `
import type { FrontendShelfQuery, FrontendUploadMutationVariables } from "./gql/graphql";

type IsUnknown<T> = unknown extends T ? true : false;
type Shelf = NonNullable<FrontendShelfQuery["shelf"]>;
type Size = NonNullable<Shelf["original"]["size"]>;
type FileVariable = FrontendUploadMutationVariables["file"];

export const dateTimeKnown: IsUnknown<Shelf["createdAt"]> = false;
export const safeIntKnown: IsUnknown<Size> = false;
export const uploadKnown: IsUnknown<FileVariable> = false;

export const createdAt: string = "" as Shelf["createdAt"];
export const size: number = 0 as Size;
export const asFile: FileVariable = new File([], "a.png");
export const asBlob: FileVariable = new Blob([]);
// @ts-expect-error a DateTime is text, not a number
export const notNumber: number = "" as Shelf["createdAt"];
// @ts-expect-error an Upload is a file, not a string
export const notString: FileVariable = "a.png";
`;

describe("codegen for a frontend with the kit's exported settings", () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "frontend-codegen-"));
    await fs.symlink(path.join(root, "node_modules"), path.join(dir, "node_modules"));
    await fs.mkdir(path.join(dir, "src"));
    await fs.writeFile(path.join(dir, "src/operations.graphql"), FRONTEND_DOCUMENT);
    await fs.writeFile(path.join(dir, "src/check.ts"), TYPE_CHECK);
    // A bundler-style frontend project, strict.
    const compilerOptions = { noEmit: true, strict: true, target: "es2022", module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom"], skipLibCheck: true, types: [] };
    await fs.writeFile(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["src/check.ts"] }));
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it("types DateTime, SafeInt and Upload with no hand mapping, and emits a manifest", async () => {
    const dist = await buildClient({ types: false });
    // As a frontend would: `import { clientPresetTarget } from "@medialibrary/client/codegen"`.
    const exportPath = (JSON.parse(await fs.readFile(path.join(root, "client/package.json"), "utf8")) as { exports: Record<string, { import: string }> }).exports["./codegen"]!.import;
    assert.equal(path.resolve(root, "client", exportPath), path.join(dist, "codegen.js"));
    const { clientPresetTarget, scalars } = (await import(path.join(dist, "codegen.js"))) as typeof import("../client/src/codegen.js");
    assert.deepEqual(Object.keys(scalars).sort(), ["DateTime", "SafeInt", "Upload"]);

    await generate(
      {
        cwd: dir,
        schema: path.join(root, "schema.graphql"),
        silent: true,
        generates: { [path.join(dir, "src/gql/")]: clientPresetTarget({ documents: path.join(dir, "src/*.graphql") }) },
      },
      true,
    );
    const manifest = JSON.parse(await fs.readFile(path.join(dir, "src/gql/persisted-documents.json"), "utf8")) as Record<string, string>;
    assert.equal(Object.keys(manifest).length, 2);
    assert.ok(Object.keys(manifest).every((k) => /^sha256:[0-9a-f]{64}$/.test(k)));

    const tsc = path.join(root, "node_modules/.bin/tsc");
    await run(tsc, ["-p", "tsconfig.json"], { cwd: dir }).catch((err: { stdout?: string }) => assert.fail(`the frontend's generated types do not check:\n${err.stdout}`));
  });
});
