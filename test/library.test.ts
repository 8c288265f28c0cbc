import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import {
  DeleteShelfDocument,
  GetShelfDocument,
  MediaKindsDocument,
  ShelfSetDocument,
  UpdateShelfDocument,
  UploadShelfDocument,
} from "./generated/graphql.js";
import { errorCode, gql, upload, uploadMany, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp3, makePdf } from "./helpers/media.js";
import { databaseFlavours, listFiles, startTestServer, type TestServer } from "./helpers/server.js";

const SECRET = "test-secret-that-is-long-enough-for-hs256";

function token(sub: string, options: { expiresIn?: string | number; secret?: string; notBefore?: string | number } = {}) {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt();
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(options.notBefore);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

for (const flavour of await databaseFlavours()) {
  describe(`library, owners and queries (${flavour})`, () => {
    let server: TestServer;
    let alice: string;
    let bob: string;
    before(async () => {
      server = await startTestServer(flavour, { AUTH_JWT_SECRET: SECRET });
      alice = await token("alice", { expiresIn: "1h" });
      bob = await token("bob", { expiresIn: "1h" });
    });
    after(() => server.close());

    const uploadAs = (who: string, bytes: Buffer, filename: string) => uploadShelf(server.url, bytes, filename, { token: who });

    it("needs a valid bearer token when a secret is configured", async () => {
      const cases: Array<[string | undefined, RegExp]> = [
        [undefined, /Bearer token is required/],
        ["not-a-jwt", /not valid/],
        [await token("alice", { secret: "another-secret-another-secret-xx" }), /not valid/],
        [await token("alice", { expiresIn: Math.floor(Date.now() / 1000) - 60 }), /expired/],
        [await token("alice", { notBefore: Math.floor(Date.now() / 1000) + 3600, expiresIn: "2h" }), /not valid/],
        [await token("alice"), /must carry an expiry/],
      ];
      for (const [tok, message] of cases) {
        const res = await gql(server.url, ShelfSetDocument, {}, { token: tok });
        assert.equal(res.status, 401);
        assert.equal(errorCode(res), "UNAUTHENTICATED");
        assert.match(res.errors![0]!.message, message);
        assert.equal(res.data ?? null, null);
      }
      const anonymousUpload = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes: await makeImage(8, 8), filename: "x.jpg" },
      ]);
      assert.equal(errorCode(anonymousUpload), "UNAUTHENTICATED");
      assert.deepEqual(await listFiles(server.mediaRoot), []);
    });

    it("lists the viewer's shelves newest first as a Relay connection, by kind and page", async () => {
      const image = await uploadAs(alice, await makeImage(10, 10), "first.jpg");
      const audio = await uploadAs(alice, await makeMp3(1), "second.mp3");
      const doc = await uploadAs(alice, makePdf(), "third.pdf");
      await uploadAs(bob, await makeImage(10, 10), "bobs.jpg");

      const all = await gql(server.url, ShelfSetDocument, { first: 10 }, { token: alice });
      const set = all.data!.viewer.library.shelfSet;
      assert.equal(all.data!.viewer.id, "alice");
      assert.deepEqual(set.edges.map((e) => e.node.id), [doc.id, audio.id, image.id]);
      assert.equal(set.totalCount, 3);
      assert.equal(set.pageInfo.hasNextPage, false);
      // The same file; its signed link's expiry moves with the clock.
      const path = (url: string) => url.split("?")[0];
      assert.equal(path(set.edges[0]!.node.original.url), path(doc.original.url));

      const page1 = await gql(server.url, ShelfSetDocument, { first: 2 }, { token: alice });
      const p1 = page1.data!.viewer.library.shelfSet;
      assert.deepEqual(p1.edges.map((e) => e.node.id), [doc.id, audio.id]);
      assert.equal(p1.pageInfo.hasNextPage, true);
      const page2 = await gql(server.url, ShelfSetDocument, { first: 2, after: p1.pageInfo.endCursor }, { token: alice });
      const p2 = page2.data!.viewer.library.shelfSet;
      assert.deepEqual(p2.edges.map((e) => e.node.id), [image.id]);
      assert.equal(p2.pageInfo.hasNextPage, false);

      const images = await gql(server.url, ShelfSetDocument, { kind: "IMAGE" }, { token: alice });
      assert.deepEqual(images.data!.viewer.library.shelfSet.edges.map((e) => e.node.id), [image.id]);

      const badCursor = await gql(server.url, ShelfSetDocument, { after: "nonsense" }, { token: alice });
      assert.equal(errorCode(badCursor), "BAD_USER_INPUT");
      const tooMany = await gql(server.url, ShelfSetDocument, { first: 1000 }, { token: alice });
      assert.equal(errorCode(tooMany), "BAD_USER_INPUT");
    });

    it("treats another owner's shelf as not found for every query and mutation, with no side effect", async () => {
      const shelf = await uploadAs(alice, await makeImage(12, 12), "private.jpg");
      const asBob = await gql(server.url, GetShelfDocument, { id: shelf.id }, { token: bob });
      assert.equal(asBob.errors, undefined);
      assert.equal(asBob.data!.shelf, null);

      const rename = await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { title: "stolen" } }, { token: bob });
      assert.equal(errorCode(rename), "NOT_FOUND");
      const del = await gql(server.url, DeleteShelfDocument, { id: shelf.id }, { token: bob });
      assert.equal(errorCode(del), "NOT_FOUND");
      assert.doesNotMatch(JSON.stringify([rename, del]), /private|image\//, "no data of the shelf leaks");

      const bobsList = await gql(server.url, ShelfSetDocument, { first: 50 }, { token: bob });
      assert.ok(!bobsList.data!.viewer.library.shelfSet.edges.some((e) => e.node.id === shelf.id));
      const still = await gql(server.url, GetShelfDocument, { id: shelf.id }, { token: alice });
      assert.equal(still.data!.shelf!.title, "private");
      await fs.access(path.join(server.mediaRoot, shelf.original.name));

      const unknown = await gql(server.url, GetShelfDocument, { id: "not-a-uuid" }, { token: alice });
      assert.equal(unknown.data!.shelf, null);
    });

    it("answers concurrent deletes of one shelf with one success and NOT_FOUND for the rest", async () => {
      const shelves = await Promise.all([1, 2, 3, 4].map(async (i) => uploadAs(alice, await makeImage(8 + i, 8), `race${i}.jpg`)));
      const results = await Promise.all(
        shelves.flatMap((shelf) => [1, 2, 3].map(() => gql(server.url, DeleteShelfDocument, { id: shelf.id }, { token: alice }))),
      );
      for (let i = 0; i < shelves.length; i++) {
        const mine = results.slice(i * 3, i * 3 + 3);
        assert.equal(mine.filter((r) => r.data?.deleteShelf.deleted).length, 1, JSON.stringify(mine));
        assert.deepEqual(mine.filter((r) => r.errors).map(errorCode), ["NOT_FOUND", "NOT_FOUND"]);
      }
      await server.app.services.deletions.idle();
      server.app.services.deletions.notifyWork();
      await server.app.services.deletions.idle();
      for (const shelf of shelves) await assert.rejects(fs.access(path.join(server.mediaRoot, shelf.original.name)));
    });

    it("renames a shelf and refuses an empty title", async () => {
      const shelf = await uploadAs(alice, await makeImage(9, 9), "old.jpg");
      const renamed = await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { title: " New name " } }, { token: alice });
      assert.equal(renamed.data!.updateShelf.title, "New name");
      const fetched = await gql(server.url, GetShelfDocument, { id: shelf.id }, { token: alice });
      assert.equal(fetched.data!.shelf!.title, "New name");
      const empty = await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { title: "  \u0000 " } }, { token: alice });
      assert.equal(errorCode(empty), "BAD_USER_INPUT");
    });

    it("lists the kinds and their rules", async () => {
      const res = await gql(server.url, MediaKindsDocument, {}, { token: alice });
      const kinds = res.data!.mediaKinds;
      assert.deepEqual(kinds.map((k) => k.kind), ["IMAGE", "AUDIO", "VIDEO", "DOCUMENT"]);
      assert.deepEqual(kinds.map((k) => k.shelfType), ["ImageShelf", "AudioShelf", "VideoShelf", "DocumentShelf"]);
      const image = kinds.find((k) => k.kind === "IMAGE")!;
      assert.deepEqual(image.formats.map((f) => f.extension), ["jpg", "png", "gif", "webp", "avif", "heic", "heif", "tif"]);
      assert.equal(image.maxFileSize, 50 * 1024 * 1024);
      assert.ok(kinds.find((k) => k.kind === "VIDEO")!.formats.some((f) => f.mimeType === "video/matroska"));
    });

    it("costs the same number of SQL queries for a page of 50 as for a page of 5", async () => {
      const carol = await token("carol", { expiresIn: "1h" });
      await uploadMany(server.url, await makeImage(6, 6, "png"), 55, { token: carol });
      const count = async (first: number) => {
        server.queries.length = 0;
        const res = await gql(server.url, ShelfSetDocument, { first }, { token: carol });
        assert.equal(res.data!.viewer.library.shelfSet.edges.length, first);
        assert.ok(res.data!.viewer.library.shelfSet.edges.every((e) => e.node.files.length === 1 && e.node.original.url));
        return server.queries.filter((q) => /^\s*select/i.test(q)).length;
      };
      const five = await count(5);
      const fifty = await count(50);
      assert.ok(five > 0, "queries are counted");
      assert.equal(fifty, five, `page of 50 used ${fifty} queries, page of 5 used ${five}`);
      assert.ok(fifty <= 3, `a page costs ${fifty} queries`);
    });
  });
}
