import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { AddVideoThumbnailDocument, SelectThumbnailDocument, VideoThumbnailsDocument, DeleteShelfDocument, UpdateShelfDocument, ShelfSetDocument } from "./generated/graphql.js";
import { errorCode, gql, upload, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp4 } from "./helpers/media.js";
import { DEFAULT_VERSIONS, listFiles, startTestServer, type TestServer } from "./helpers/server.js";
import { waitFor, fetchBytes } from "./helpers/versions.js";

/** A video's poster frames: taken after upload, selected, added, seen and deleted with the video. */
describe("poster frames", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", DEFAULT_VERSIONS);
  });
  after(() => server.close());

  test("poster frames: three image shelves attached to the video, the first selected; select and add", async () => {
    const shelf = await uploadShelf(server.url, await makeMp4(2, "320x240"), "posters.mp4");
    const thumbs = await waitFor("poster frames", async () => {
      const res = await gql(server.url, VideoThumbnailsDocument, { id: shelf.id });
      const video = res.data!.shelf!;
      return "thumbnails" in video && video.thumbnails.length === 3 ? video : undefined;
    });
    assert.ok("thumbnails" in thumbs);
    assert.deepEqual(thumbs.thumbnails.map((t) => [t.width, t.height, t.thumbnailOf?.id]), Array(3).fill([320, 240, shelf.id]));
    assert.match(thumbs.thumbnails[0]!.title, /frame at 10%/);
    assert.equal(thumbs.thumbnail?.id, thumbs.thumbnails[0]!.id);
    const frame = (await fetchBytes(server, thumbs.thumbnails[1]!.original.url)).body;
    assert.equal((await sharp(frame).metadata()).format, "png");

    const selected = await gql(server.url, SelectThumbnailDocument, { videoShelfId: shelf.id, imageShelfId: thumbs.thumbnails[2]!.id });
    assert.equal(selected.data!.selectThumbnail.thumbnail?.id, thumbs.thumbnails[2]!.id);

    const stranger = await uploadShelf(server.url, await makeImage(50, 50, "png"), "other.png");
    const refused = await gql(server.url, SelectThumbnailDocument, { videoShelfId: shelf.id, imageShelfId: stranger.id });
    assert.equal(errorCode(refused), "BAD_USER_INPUT");

    const custom = await upload(server.url, AddVideoThumbnailDocument, { videoShelfId: shelf.id, file: null }, [
      { variable: "file", bytes: await makeImage(640, 360, "jpeg"), filename: "poster.jpg" },
    ]);
    assert.equal(custom.data?.addVideoThumbnail.thumbnailOf?.id, shelf.id, JSON.stringify(custom.errors));
    const after = await gql(server.url, VideoThumbnailsDocument, { id: shelf.id });
    const video = after.data!.shelf!;
    assert.ok("thumbnails" in video);
    assert.equal(video.thumbnails.length, 4);
    assert.equal(video.thumbnail?.id, custom.data!.addVideoThumbnail.id);

    // One selection per video, kept by the database: a frame cannot be selected by two videos,
    // and a video has a single column for its selection.
    const other = await uploadShelf(server.url, await makeMp4(1, "160x120"), "other.mp4");
    await assert.rejects(
      server.app.db.prisma.$executeRaw`UPDATE "Shelf" SET "selectedThumbnailId" = ${custom.data!.addVideoThumbnail.id}::uuid WHERE "id" = ${other.id}::uuid`,
      /unique/i,
    );

    // The library lists the video, not its frames.
    const listed = await gql(server.url, ShelfSetDocument, { first: 100 });
    const ids = listed.data!.viewer.library.shelfSet.edges.map((e) => e.node.id);
    assert.ok(ids.includes(shelf.id));
    assert.ok(video.thumbnails.every((t) => !ids.includes(t.id)), "poster frames are not in the library's list");

    // Its frames are seen as the video is: public with it, private again with it.
    const visibilityOf = async () =>
      (await server.app.db.prisma.shelf.findMany({ where: { thumbnailOfId: shelf.id }, select: { visibility: true } })).map((f) => f.visibility);
    await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { visibility: "PUBLIC" } });
    assert.deepEqual(await visibilityOf(), Array(4).fill("PUBLIC"));
    await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { visibility: "PRIVATE" } });
    assert.deepEqual(await visibilityOf(), Array(4).fill("PRIVATE"));

    // Deleting the video deletes its poster frames and every byte of them.
    const before = (await listFiles(server.mediaRoot)).length;
    const deleted = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
    assert.ok(deleted.data!.deleteShelf.deletedFiles >= 1 + 1 + 4, `deleted ${deleted.data!.deleteShelf.deletedFiles}`);
    assert.equal(await server.app.db.prisma.shelf.count({ where: { thumbnailOfId: shelf.id } }), 0);
    await waitFor("bytes deleted", async () => ((await server.app.db.prisma.storageDeletion.count()) === 0 ? true : undefined));
    const left = await listFiles(server.mediaRoot);
    assert.ok(left.every((f) => !f.includes(shelf.id)), left.join("\n"));
    assert.ok(left.length < before);
  });
});
