import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import {
  AttachShelfDocument,
  DeleteShelfDocument,
  DetachAllDocument,
  DetachShelfDocument,
  GetShelfDocument,
  MediaKindsDocument,
  OwnersLibraryDocument,
  ReorderRelationsDocument,
  ShelfSetDocument,
  ShelvesForDocument,
  UpdateShelfDocument,
  UploadShelfDocument,
  UploadShelvesDocument,
  WhoamiDocument,
  ShelfVersionDocument,
  ShelfTransformDocument,
  SelectThumbnailDocument,
  AddVideoThumbnailDocument,
} from "./generated/graphql.js";
import { errorCode, gql, upload, uploadShelf, type GraphQLResponse, type RequestOptions } from "./helpers/graphql.js";
import { makeImage, makeMp4 } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const SECRET = "authorization-matrix-secret-0123456789";
type Caller = "owner" | "other" | "admin" | "apiKey" | "anonymous";
const CALLERS: Caller[] = ["owner", "other", "admin", "apiKey", "anonymous"];

/**
 * Every query and mutation, tried as the shelf's owner, another owner, an admin, the owner's API
 * key and nobody: the exact outcome of each is asserted.
 */
describe("authorization matrix", () => {
  let server: TestServer;
  const auth = {} as Record<Caller, RequestOptions>;
  before(async () => {
    server = await startTestServer("pglite", { AUTH_JWT_SECRET: SECRET });
    const sign = (sub: string, roles: string[] = []) =>
      new SignJWT({ roles }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
    const { ApiKeyService } = await import("../src/auth/apikeys.js");
    const { key } = await new ApiKeyService(server.app.db.prisma).create({ ownerId: "alice", name: "matrix" });
    auth.owner = { token: await sign("alice") };
    auth.other = { token: await sign("bob") };
    auth.admin = { token: await sign("root", ["admin"]) };
    auth.apiKey = { headers: { authorization: `ApiKey ${key}` } };
    auth.anonymous = {};
  });
  after(() => server.close());

  /** A fresh shelf of alice's, attached to a record, for each try. */
  async function alicesShelf() {
    const shelf = await uploadShelf(server.url, await makeImage(8, 8), "alice.jpg", auth.owner);
    await gql(server.url, AttachShelfDocument, { shelfId: shelf.id, target: { model: "shop.product", objectId: shelf.id } }, auth.owner);
    return shelf;
  }

  /** What a response amounts to: an error code, or a short description of the data. */
  function outcome(res: GraphQLResponse<unknown>, describe: (data: never) => string): string {
    if (res.errors) return errorCode(res) ?? "ERROR";
    return describe(res.data as never);
  }

  const image = async () => ({ variable: "input.file", bytes: await makeImage(8, 8), filename: "x.jpg" });

  /** A video of alice's with one poster frame of her own. */
  async function alicesVideo() {
    const video = await uploadShelf(server.url, await makeMp4(1, "160x120"), "alice.mp4", auth.owner);
    const frame = await upload(server.url, AddVideoThumbnailDocument, { videoShelfId: video.id, file: null }, [{ ...(await image()), variable: "file" }], auth.owner);
    return { video, frameId: frame.data!.addVideoThumbnail.id };
  }

  const operations: Record<string, { expected: Record<Caller, string>; run: (as: RequestOptions) => Promise<string> }> = {
    viewer: {
      expected: { owner: "alice", other: "bob", admin: "root", apiKey: "alice", anonymous: "UNAUTHENTICATED" },
      run: async (as) => outcome(await gql(server.url, WhoamiDocument, {}, as), (d: { viewer: { id: string } }) => d.viewer.id),
    },
    mediaKinds: {
      expected: { owner: "4", other: "4", admin: "4", apiKey: "4", anonymous: "UNAUTHENTICATED" },
      run: async (as) => outcome(await gql(server.url, MediaKindsDocument, {}, as), (d: { mediaKinds: unknown[] }) => String(d.mediaKinds.length)),
    },
    "shelf(id)": {
      expected: { owner: "found", other: "null", admin: "found", apiKey: "found", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, GetShelfDocument, { id: shelf.id }, as), (d: { shelf: unknown }) => (d.shelf ? "found" : "null"));
      },
    },
    "viewer.library.shelfSet": {
      expected: { owner: "has it", other: "lacks it", admin: "lacks it", apiKey: "has it", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, ShelfSetDocument, { first: 100 }, as), (d: { viewer: { library: { shelfSet: { edges: Array<{ node: { id: string } }> } } } }) =>
          d.viewer.library.shelfSet.edges.some((e) => e.node.id === shelf.id) ? "has it" : "lacks it",
        );
      },
    },
    "library(ownerId: alice)": {
      expected: { owner: "ok", other: "FORBIDDEN", admin: "ok", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) => outcome(await gql(server.url, OwnersLibraryDocument, { ownerId: "alice" }, as), () => "ok"),
    },
    shelvesFor: {
      expected: { owner: "1", other: "0", admin: "0", apiKey: "1", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, ShelvesForDocument, { target: { model: "shop.product", objectId: shelf.id } }, as), (d: { shelvesFor: unknown[] }) =>
          String(d.shelvesFor.length),
        );
      },
    },
    uploadShelf: {
      expected: { owner: "ok", other: "ok", admin: "ok", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) => outcome(await upload(server.url, UploadShelfDocument, { input: { file: null } }, [await image()], as), () => "ok"),
    },
    uploadShelves: {
      expected: { owner: "ok", other: "ok", admin: "ok", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) =>
        outcome(await upload(server.url, UploadShelvesDocument, { input: { files: [null] } }, [{ ...(await image()), variable: "input.files.0" }], as), () => "ok"),
    },
    updateShelf: {
      expected: { owner: "ok", other: "NOT_FOUND", admin: "ok", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { title: "renamed" } }, as), () => "ok");
      },
    },
    deleteShelf: {
      expected: { owner: "ok", other: "NOT_FOUND", admin: "ok", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, DeleteShelfDocument, { id: shelf.id }, as), () => "ok");
      },
    },
    attachShelf: {
      expected: { owner: "ok", other: "NOT_FOUND", admin: "ok", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, AttachShelfDocument, { shelfId: shelf.id, target: { model: "blog.post", objectId: "1" } }, as), () => "ok");
      },
    },
    detachShelf: {
      expected: { owner: "true", other: "false", admin: "true", apiKey: "true", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, DetachShelfDocument, { shelfId: shelf.id, target: { model: "shop.product", objectId: shelf.id } }, as), (d: { detachShelf: boolean }) =>
          String(d.detachShelf),
        );
      },
    },
    reorderRelations: {
      expected: { owner: "ok", other: "BAD_USER_INPUT", admin: "BAD_USER_INPUT", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, ReorderRelationsDocument, { target: { model: "shop.product", objectId: shelf.id }, shelfIds: [shelf.id] }, as), () => "ok");
      },
    },
    "Shelf.version": {
      expected: { owner: "file", other: "null", admin: "file", apiKey: "file", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, ShelfVersionDocument, { id: shelf.id, preset: "small" }, as), (d: { shelf: { version: unknown } | null }) =>
          d.shelf?.version ? "file" : "null",
        );
      },
    },
    "ImageShelf.transform": {
      expected: { owner: "file", other: "null", admin: "file", apiKey: "file", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, ShelfTransformDocument, { id: shelf.id, input: { width: 4 } }, as), (d: { shelf: { transform?: unknown } | null }) =>
          d.shelf?.transform ? "file" : "null",
        );
      },
    },
    selectThumbnail: {
      expected: { owner: "ok", other: "NOT_FOUND", admin: "ok", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const { video, frameId } = await alicesVideo();
        return outcome(await gql(server.url, SelectThumbnailDocument, { videoShelfId: video.id, imageShelfId: frameId }, as), () => "ok");
      },
    },
    addVideoThumbnail: {
      expected: { owner: "ok", other: "NOT_FOUND", admin: "ok", apiKey: "ok", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const { video } = await alicesVideo();
        return outcome(await upload(server.url, AddVideoThumbnailDocument, { videoShelfId: video.id, file: null }, [{ ...(await image()), variable: "file" }], as), () => "ok");
      },
    },
    detachAll: {
      expected: { owner: "1", other: "0", admin: "0", apiKey: "1", anonymous: "UNAUTHENTICATED" },
      run: async (as) => {
        const shelf = await alicesShelf();
        return outcome(await gql(server.url, DetachAllDocument, { target: { model: "shop.product", objectId: shelf.id } }, as), (d: { detachAll: number }) => String(d.detachAll));
      },
    },
  };

  for (const [name, operation] of Object.entries(operations)) {
    it(`${name}: ${CALLERS.map((c) => `${c} → ${operation.expected[c]}`).join(", ")}`, async () => {
      const actual = {} as Record<Caller, string>;
      for (const caller of CALLERS) actual[caller] = await operation.run(auth[caller]);
      assert.deepEqual(actual, operation.expected);
    });
  }
});
