import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConfigError, loadConfig } from "../src/config.js";
import { MediaKindsDocument, ShelfSetDocument, UploadShelfDocument, UploadShelvesDocument } from "./generated/graphql.js";
import { errorCode, gql, upload } from "./helpers/graphql.js";
import { makeImage, makeMp3 } from "./helpers/media.js";
import { listFiles, startTestServer, type TestServer } from "./helpers/server.js";

const RULES = {
  IMAGE: { formats: ["jpg", "png"], minWidth: 10, maxWidth: 100, maxHeight: 100, maxPixels: 5000, maxFilesPerUpload: 2 },
  AUDIO: { maxDurationMs: 1500 },
};

describe("rules per kind", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", { MEDIA_KIND_RULES: JSON.stringify(RULES), MAX_SIZE_AUDIO: "1000000" });
  });
  after(() => server.close());

  async function send(bytes: Buffer, filename: string) {
    return upload(server.url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes, filename }]);
  }

  it("refuses what breaks a rule, naming the rule, and keeps nothing", async () => {
    const cases: Array<[Buffer, string, string, RegExp]> = [
      [await makeImage(20, 20, "webp"), "x.webp", "UNSUPPORTED_MEDIA_TYPE", /accepted formats: jpg, png/],
      [await makeImage(5, 20, "png"), "narrow.png", "BAD_USER_INPUT", /width 5 is below the minimum of 10 for IMAGE/],
      [await makeImage(200, 20, "png"), "wide.png", "BAD_USER_INPUT", /width 200 is above the maximum of 100 for IMAGE/],
      [await makeImage(20, 150, "png"), "tall.png", "BAD_USER_INPUT", /height 150 is above the maximum of 100 for IMAGE/],
      [await makeImage(90, 90, "png"), "many-pixels.png", "BAD_USER_INPUT", /more than the 0 megapixels allowed|megapixels/],
      [await makeMp3(2), "long.mp3", "BAD_USER_INPUT", /duration of \d+ ms is above the maximum of 1500 ms for AUDIO/],
    ];
    for (const [bytes, filename, code, message] of cases) {
      const res = await send(bytes, filename);
      assert.equal(errorCode(res), code, `${filename}: ${JSON.stringify(res.errors)}`);
      assert.match(res.errors![0]!.message, message, filename);
    }
    const ok = await send(await makeImage(50, 50, "png"), "fine.png");
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
    const list = await gql(server.url, ShelfSetDocument, {});
    assert.equal(list.data!.viewer.library.shelfSet.totalCount, 1);
    assert.deepEqual(await listFiles(server.mediaRoot), [ok.data!.uploadShelf.original.name]);
  });

  it("refuses more files of a kind in one request than the kind allows", async () => {
    const png = await makeImage(20, 20, "png");
    const res = await upload(server.url, UploadShelvesDocument, { input: { files: [null, null, null] } }, [0, 1, 2].map((i) => ({ variable: `input.files.${i}`, bytes: png, filename: `${i}.png` })));
    assert.equal(errorCode(res), "BAD_USER_INPUT");
    assert.match(res.errors![0]!.message, /3 IMAGE files in one upload; at most 2/);
    assert.equal((await gql(server.url, ShelfSetDocument, {})).data!.viewer.library.shelfSet.totalCount, 1);
  });

  it("tells frontends every rule through mediaKinds", async () => {
    const kinds = (await gql(server.url, MediaKindsDocument, {})).data!.mediaKinds;
    const image = kinds.find((k) => k.kind === "IMAGE")!;
    assert.deepEqual(image.formats.map((f) => f.extension), ["jpg", "png"]);
    assert.deepEqual([image.minWidth, image.maxWidth, image.maxHeight, image.maxPixels, image.maxFilesPerUpload], [10, 100, 100, 5000, 2]);
    const audio = kinds.find((k) => k.kind === "AUDIO")!;
    assert.equal(audio.maxDurationMs, 1500);
    assert.equal(audio.maxFileSize, 1000000);
    assert.equal(kinds.find((k) => k.kind === "VIDEO")!.maxDurationMs, null);
  });

  it("refuses rules that do not make sense at start", () => {
    assert.throws(() => loadConfig({ MEDIA_KIND_RULES: "{" }), (e: unknown) => e instanceof ConfigError && /not valid JSON/.test(e.message));
    assert.throws(() => loadConfig({ MEDIA_KIND_RULES: '{"IMAGE": {"maxWidht": 3}}' }), (e: unknown) => e instanceof ConfigError && /maxWidht/.test(e.message));
    assert.throws(() => loadConfig({ MEDIA_KIND_RULES: '{"IMAGE": {"maxWidth": -3}}' }), ConfigError);
  });
});
