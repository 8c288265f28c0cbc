import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parse } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { UploadShelfDocument, UploadShelvesDocument } from "./generated/graphql.js";
import { errorCode, upload } from "./helpers/graphql.js";
import { makeImage, makeMp3, makePdf, sha256 } from "./helpers/media.js";
import { listFiles, startTestServer, type TestServer } from "./helpers/server.js";

/** The order and mapping of parts is the client's choice; none of it may stall a request. */
describe("multipart requests in any shape the spec allows", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite");
  });
  after(() => server.close());

  it("takes files whose parts come in another order than the variables", async () => {
    const big = Buffer.concat([makePdf(), Buffer.alloc(8 * 1024 * 1024, 0x20)]);
    const small = await makeImage(10, 10, "png");
    const res = await upload(server.url, UploadShelvesDocument, { input: { files: [null, null] } }, [
      { variable: "input.files.1", bytes: big, filename: "second.pdf" },
      { variable: "input.files.0", bytes: small, filename: "first.png" },
    ]);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.deepEqual(res.data!.uploadShelves.map((s) => s.title), ["first", "second"]);
    assert.deepEqual(res.data!.uploadShelves.map((s) => s.original.checksum), [sha256(small), sha256(big)]);
  });

  it("reads and drops a file mapped to a variable the operation does not declare", async () => {
    const junk = Buffer.concat([makePdf(), Buffer.alloc(4 * 1024 * 1024)]);
    const image = await makeImage(10, 10, "jpeg");
    const variables = { input: { file: null }, junk: null } as unknown as Parameters<typeof upload<unknown, { input: { file: null } }>>[2];
    const res = await upload(server.url, UploadShelfDocument, variables, [
      { variable: "junk", bytes: junk, filename: "junk.pdf" },
      { variable: "input.file", bytes: image, filename: "real.jpg" },
    ]);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.equal(res.data!.uploadShelf.original.checksum, sha256(image));
    assert.equal((await listFiles(server.mediaRoot)).filter((f) => f.includes("junk")).length, 0);
  });

  it("refuses two upload mutation fields in one request, without stalling", async () => {
    const doc = parse(`mutation Two($a: Upload!, $b: Upload!) {
      one: uploadShelf(input: { file: $a }) { id }
      two: uploadShelf(input: { file: $b }) { id }
    }`) as TypedDocumentNode<unknown, { a: null; b: null }>;
    const before = (await listFiles(server.mediaRoot)).length;
    const res = await upload(server.url, doc, { a: null, b: null }, [
      { variable: "b", bytes: await makeMp3(1), filename: "b.mp3" },
      { variable: "a", bytes: await makeImage(8, 8), filename: "a.jpg" },
    ]);
    assert.equal(res.status, 400);
    assert.equal(errorCode(res), "BAD_USER_INPUT");
    assert.equal((await listFiles(server.mediaRoot)).length, before);
  });

  it("answers an empty body, or one holding only the closing boundary, with 400 and keeps nothing", async () => {
    const before = await listFiles(server.mediaRoot);
    for (const body of ["", "--boundary--\r\n", "--boundary--", "\r\n--boundary--\r\n"]) {
      const res = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "multipart/form-data; boundary=boundary", "apollo-require-preflight": "true" },
        body,
      });
      const answer = (await res.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(answer.errors[0]!.extensions.code, "BAD_REQUEST", JSON.stringify(body));
      assert.doesNotMatch(answer.errors[0]!.message, /graphql-upload|README|busboy|\//, "no library wording or paths");
    }
    assert.deepEqual(await listFiles(server.mediaRoot), before);
    assert.ok(!server.logs.some((line) => line.startsWith("request failed")), "nothing was logged as a server failure");
  });

  it("stays responsive after each of these", async () => {
    const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
      { variable: "input.file", bytes: await makeImage(8, 8), filename: "after.jpg" },
    ]);
    assert.equal(res.errors, undefined);
  });
});
