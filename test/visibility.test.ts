import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GetShelfDocument, UpdateShelfDocument, UploadShelfDocument } from "./generated/graphql.js";
import { gql, upload } from "./helpers/graphql.js";
import { makeImage, sha256 } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

describe("visibility per shelf", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite");
  });
  after(() => server.close());

  it("serves a private shelf's files only through signed, expiring links, and a public one's by stable URLs", async () => {
    const bytes = await makeImage(16, 16, "png");
    const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes, filename: "p.png" }]);
    const shelf = res.data!.uploadShelf;
    const privateUrl = shelf.original.url;
    assert.match(privateUrl, /\?expires=\d+&signature=[\w-]+$/, "PRIVATE is the default");
    const ok = await fetch(server.url + privateUrl);
    assert.equal(ok.status, 200);
    assert.equal(sha256(Buffer.from(await ok.arrayBuffer())), sha256(bytes));
    assert.equal(ok.headers.get("cache-control"), "private, max-age=300");
    const bare = privateUrl.split("?")[0]!;
    assert.equal((await fetch(server.url + bare)).status, 403);
    const tampered = privateUrl.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 1}`);
    assert.equal((await fetch(server.url + tampered)).status, 403);

    const made = await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { visibility: "PUBLIC" } });
    assert.equal(made.errors, undefined, JSON.stringify(made.errors));
    const publicUrl = (await gql(server.url, GetShelfDocument, { id: shelf.id })).data!.shelf!.original.url;
    assert.equal(publicUrl, bare, "a public file's URL is stable");
    const open = await fetch(server.url + publicUrl);
    assert.equal(open.status, 200);
    assert.equal(open.headers.get("cache-control"), "public, max-age=3600");
    await open.arrayBuffer();

    await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { visibility: "PRIVATE" } });
    assert.equal((await fetch(server.url + bare)).status, 403, "made private again, the stable URL stops working");
  });

  it("takes the visibility at upload", async () => {
    const res = await upload(server.url, UploadShelfDocument, { input: { file: null, visibility: "PUBLIC" } }, [
      { variable: "input.file", bytes: await makeImage(8, 8), filename: "pub.jpg" },
    ]);
    assert.doesNotMatch(res.data!.uploadShelf.original.url, /signature=/);
    assert.equal((await fetch(server.url + res.data!.uploadShelf.original.url)).status, 200);
  });
});
