import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import {
  AttachShelfDocument,
  DeleteShelfDocument,
  DetachAllDocument,
  DetachShelfDocument,
  RelatedShelfSetDocument,
  ReorderRelationsDocument,
  ShelfRelationsDocument,
  ShelvesForDocument,
  UploadShelfDocument,
} from "./generated/graphql.js";
import { errorCode, gql, upload, uploadMany, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp3, makePdf } from "./helpers/media.js";
import { databaseFlavours, listFiles, startTestServer, type TestServer } from "./helpers/server.js";

const SECRET = "relations-test-secret-0123456789abcdef";
const token = (sub: string) => new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));

const product = { model: "shop.product", objectId: "42" };

for (const flavour of await databaseFlavours()) {
  describe(`relations to the app's records (${flavour})`, () => {
    let server: TestServer;
    let alice: string;
    let bob: string;
    before(async () => {
      server = await startTestServer(flavour, { AUTH_JWT_SECRET: SECRET, RELATION_MODELS: "shop.product,shop.order,blog.*" });
      [alice, bob] = await Promise.all([token("alice"), token("bob")]);
    });
    after(() => server.close());

    const as = (who: string) => ({ token: who });

    it("attaches once however often asked, and detaching what is not attached says false", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(8, 8), "a.jpg", as(alice));
      const first = await gql(server.url, AttachShelfDocument, { shelfId: shelf.id, target: product }, as(alice));
      const again = await gql(server.url, AttachShelfDocument, { shelfId: shelf.id, target: { model: "shop.product", objectId: "42" } }, as(alice));
      assert.equal(first.errors, undefined, JSON.stringify(first.errors));
      assert.equal(again.data!.attachShelf.id, first.data!.attachShelf.id);
      assert.equal(first.data!.attachShelf.shelf.id, shelf.id);
      const relations = await gql(server.url, ShelfRelationsDocument, { id: shelf.id }, as(alice));
      assert.deepEqual(relations.data!.shelf!.relations.map((r) => [r.model, r.objectId]), [["shop.product", "42"]]);

      assert.equal((await gql(server.url, DetachShelfDocument, { shelfId: shelf.id, target: product }, as(alice))).data!.detachShelf, true);
      const missing = await gql(server.url, DetachShelfDocument, { shelfId: shelf.id, target: product }, as(alice));
      assert.equal(missing.errors, undefined);
      assert.equal(missing.data!.detachShelf, false);
    });

    it("validates the model and keeps to the allowed ones, naming them", async () => {
      const shelf = await uploadShelf(server.url, await makeImage(8, 8), "b.jpg", as(alice));
      for (const model of ["Shop.Product", "shop", "shop.product.extra", "../x", ""]) {
        const res = await gql(server.url, AttachShelfDocument, { shelfId: shelf.id, target: { model, objectId: "1" } }, as(alice));
        assert.equal(errorCode(res), "BAD_USER_INPUT", model);
        assert.match(res.errors![0]!.message, /app_label\.model_name/);
      }
      const refused = await gql(server.url, AttachShelfDocument, { shelfId: shelf.id, target: { model: "auth.user", objectId: "1" } }, as(alice));
      assert.equal(errorCode(refused), "BAD_USER_INPUT");
      assert.match(refused.errors![0]!.message, /allowed: shop\.product, shop\.order, blog\.\*/);
      const pattern = await gql(server.url, AttachShelfDocument, { shelfId: shelf.id, target: { model: "blog.post", objectId: "7" } }, as(alice));
      assert.equal(pattern.errors, undefined);
    });

    it("lists a record's shelves in its order, which reorderRelations sets, with a kind filter", async () => {
      const target = { model: "shop.product", objectId: "order-test" };
      const image = await uploadShelf(server.url, await makeImage(8, 8), "1.jpg", as(alice));
      const song = await uploadShelf(server.url, await makeMp3(1), "2.mp3", as(alice));
      const doc = await uploadShelf(server.url, makePdf(), "3.pdf", as(alice));
      for (const s of [image, song, doc]) await gql(server.url, AttachShelfDocument, { shelfId: s.id, target }, as(alice));
      const listed = await gql(server.url, ShelvesForDocument, { target }, as(alice));
      assert.deepEqual(listed.data!.shelvesFor.map((s) => s.id), [image.id, song.id, doc.id]);

      const reordered = await gql(server.url, ReorderRelationsDocument, { target, shelfIds: [doc.id, image.id] }, as(alice));
      assert.equal(reordered.errors, undefined, JSON.stringify(reordered.errors));
      assert.deepEqual(reordered.data!.reorderRelations.map((r) => [r.shelf.id, r.position]), [[doc.id, 0], [image.id, 1], [song.id, 2]]);
      const after = await gql(server.url, ShelvesForDocument, { target }, as(alice));
      assert.deepEqual(after.data!.shelvesFor.map((s) => s.id), [doc.id, image.id, song.id]);
      const audio = await gql(server.url, ShelvesForDocument, { target, kind: "AUDIO" }, as(alice));
      assert.deepEqual(audio.data!.shelvesFor.map((s) => s.id), [song.id]);

      const stranger = await uploadShelf(server.url, await makeImage(8, 8), "x.jpg", as(alice));
      const bad = await gql(server.url, ReorderRelationsDocument, { target, shelfIds: [stranger.id] }, as(alice));
      assert.equal(errorCode(bad), "BAD_USER_INPUT");

      const related = await gql(server.url, RelatedShelfSetDocument, { relatedTo: target }, as(alice));
      assert.equal(related.data!.viewer.library.shelfSet.totalCount, 3);
      assert.deepEqual(new Set(related.data!.viewer.library.shelfSet.edges.map((e) => e.node.id)), new Set([image.id, song.id, doc.id]));
    });

    it("uploads and attaches in one transaction, and refuses a bad target before storing a byte", async () => {
      const target = { model: "shop.order", objectId: "9" };
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null, attachTo: target } }, [
        { variable: "input.file", bytes: await makeImage(8, 8), filename: "attached.jpg" },
      ], as(alice));
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      const listed = await gql(server.url, ShelvesForDocument, { target }, as(alice));
      assert.deepEqual(listed.data!.shelvesFor.map((s) => s.id), [res.data!.uploadShelf.id]);

      const before = await listFiles(server.mediaRoot);
      const bad = await upload(server.url, UploadShelfDocument, { input: { file: null, attachTo: { model: "auth.user", objectId: "1" } } }, [
        { variable: "input.file", bytes: await makeImage(8, 8), filename: "nope.jpg" },
      ], as(alice));
      assert.equal(errorCode(bad), "BAD_USER_INPUT");
      assert.deepEqual(await listFiles(server.mediaRoot), before);
    });

    it("keeps owners apart: another owner's shelf cannot be attached, and a record lists only the viewer's shelves", async () => {
      const target = { model: "shop.product", objectId: "shared" };
      const alices = await uploadShelf(server.url, await makeImage(8, 8), "mine.jpg", as(alice));
      await gql(server.url, AttachShelfDocument, { shelfId: alices.id, target }, as(alice));
      const steal = await gql(server.url, AttachShelfDocument, { shelfId: alices.id, target }, as(bob));
      assert.equal(errorCode(steal), "NOT_FOUND");
      const detach = await gql(server.url, DetachShelfDocument, { shelfId: alices.id, target }, as(bob));
      assert.equal(detach.data!.detachShelf, false);
      assert.deepEqual((await gql(server.url, ShelvesForDocument, { target }, as(bob))).data!.shelvesFor, []);
      assert.equal((await gql(server.url, DetachAllDocument, { target }, as(bob))).data!.detachAll, 0);
      assert.equal((await gql(server.url, ShelvesForDocument, { target }, as(alice))).data!.shelvesFor.length, 1);
    });

    it("drops relations with their shelf, and detachAll frees a record", async () => {
      const target = { model: "blog.post", objectId: "gone" };
      const a = await uploadShelf(server.url, await makeImage(8, 8), "a.jpg", as(alice));
      const b = await uploadShelf(server.url, await makeImage(9, 9), "b.jpg", as(alice));
      for (const s of [a, b]) await gql(server.url, AttachShelfDocument, { shelfId: s.id, target }, as(alice));
      await gql(server.url, DeleteShelfDocument, { id: a.id }, as(alice));
      assert.deepEqual((await gql(server.url, ShelvesForDocument, { target }, as(alice))).data!.shelvesFor.map((s) => s.id), [b.id]);
      assert.equal((await gql(server.url, DetachAllDocument, { target }, as(alice))).data!.detachAll, 1);
      assert.deepEqual((await gql(server.url, ShelvesForDocument, { target }, as(alice))).data!.shelvesFor, []);
    });

    it("stays free of N+1: pages of 5 and 50 shelves with relations, and shelvesFor of 50, cost the same queries", async () => {
      const carol = await token("carol");
      const target = { model: "shop.product", objectId: "many" };
      const ids = await uploadMany(server.url, await makeImage(6, 6, "png"), 55, as(carol));
      for (const shelfId of ids) await gql(server.url, AttachShelfDocument, { shelfId, target }, as(carol));
      const count = async (run: () => Promise<unknown>) => {
        server.queries.length = 0;
        await run();
        return server.queries.filter((q) => /^\s*select/i.test(q)).length;
      };
      const page5 = await count(() => gql(server.url, RelatedShelfSetDocument, { first: 5 }, as(carol)));
      const page50 = await count(async () => {
        const res = await gql(server.url, RelatedShelfSetDocument, { first: 50 }, as(carol));
        assert.equal(res.data!.viewer.library.shelfSet.edges.length, 50);
        assert.ok(res.data!.viewer.library.shelfSet.edges.every((e) => e.node.relations.length === 1));
      });
      assert.equal(page50, page5, `page of 50: ${page50} queries, page of 5: ${page5}`);
      const related5 = await count(() => gql(server.url, ShelvesForDocument, { target: { model: "shop.product", objectId: "none" } }, as(carol)));
      const related50 = await count(async () => {
        const res = await gql(server.url, ShelvesForDocument, { target }, as(carol));
        assert.equal(res.data!.shelvesFor.length, 55);
      });
      assert.ok(related50 <= related5 + 3, `shelvesFor of 55: ${related50} queries, of none: ${related5}`);
      assert.ok(related50 <= 4, `shelvesFor of 55 costs ${related50} queries`);
    });
  });
}
