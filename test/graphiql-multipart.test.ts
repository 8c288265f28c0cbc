import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { multipartForm, parseVariablePath } from "../web/graphiql/multipart.js";

// The IDE's multipart request builder, run in Node (FormData and Blob are the browser's own).
describe("GraphiQL's multipart request", () => {
  test("fields come in the spec's order, with null where each file goes and a map naming the places", async () => {
    const form = multipartForm(
      { query: "mutation ($input: UploadShelvesInput!) { uploadShelves(input: $input) { id } }", variables: { input: { kind: "IMAGE" } } },
      [
        { path: "input.files.0", file: new File(["a"], "a.png") },
        { path: "input.files.1", file: new File(["bb"], "b.png") },
      ],
    );
    assert.deepEqual([...form.keys()], ["operations", "map", "0", "1"]);
    assert.deepEqual(JSON.parse(form.get("operations") as string).variables, { input: { kind: "IMAGE", files: [null, null] } });
    assert.deepEqual(JSON.parse(form.get("map") as string), { 0: ["variables.input.files.0"], 1: ["variables.input.files.1"] });
    const second = form.get("1") as File;
    assert.equal(second.name, "b.png");
    assert.equal(await second.text(), "bb");
  });

  test("a top-level variable and missing parents are filled in; the editor's variables are left as they were", () => {
    const variables = { title: "x" };
    const form = multipartForm({ query: "q", variables }, [
      { path: "file", file: new Blob(["1"]) },
      { path: "input.file", file: new Blob(["2"]) },
    ]);
    assert.deepEqual(JSON.parse(form.get("operations") as string).variables, { title: "x", file: null, input: { file: null } });
    assert.deepEqual(variables, { title: "x" });
  });

  test("a malformed path is refused with a readable message", () => {
    for (const path of ["", "input..file", "0.file", "input.fi le", "input.__proto__x-", "input.__proto__"]) {
      assert.throws(() => parseVariablePath(path), /is not a variable path such as file, input.file or input.files.0/, path);
    }
    assert.deepEqual(parseVariablePath(" input.files.12 "), ["input", "files", "12"]);
  });
});
