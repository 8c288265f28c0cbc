import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, test } from "node:test";
import sharp from "sharp";
import { ShelfFilesDocument } from "./generated/graphql.js";
import { gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage } from "./helpers/media.js";
import { DEFAULT_VERSIONS, listFiles, startTestServer } from "./helpers/server.js";
import { run, version, settledVersion, fetchBytes } from "./helpers/versions.js";

/** Stale versions and the regenerate command. */
describe("regenerate", () => {
  test("a changed recipe marks versions stale; regenerate remakes them and removes the old bytes", async () => {
    const first = await startTestServer("pglite", DEFAULT_VERSIONS);
    const shelves = [];
    for (let i = 0; i < 3; i++) shelves.push(await uploadShelf(first.url, await makeImage(600, 400, "jpeg"), `r${i}.jpg`));
    const oldThumbs = await Promise.all(shelves.map((s) => settledVersion(first, s.id, "thumb")));
    await first.app.close();
    const presets = JSON.stringify({ IMAGE: { thumb: { recipe: { width: 120, height: 120, format: "jpeg" } } } });
    const second = await startTestServer("pglite", { ...DEFAULT_VERSIONS, DATA_DIR: first.dataDir, MEDIA_PRESETS: presets, JOBS_IMAGE_CONCURRENCY: "0" });
    try {
      const res = await gql(second.url, ShelfFilesDocument, { id: shelves[0]!.id });
      const stale = res.data!.shelf!.files.find((f) => f.preset === "thumb")!;
      assert.equal(stale.stale, true);
      assert.equal(stale.status, "READY", "a stale version keeps serving");
      await second.app.close();

      const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "src/cli/media.ts", "regenerate", "--kind", "image", "--preset", "thumb"], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: { ...process.env, NODE_ENV: "test", DATA_DIR: first.dataDir, MEDIA_PRESETS: presets, VIDEO_POSTER_POSITIONS: "" },
      });
      assert.match(stdout, /regenerated 3 version\(s\) of 3 shelf\(s\)/);
      assert.match(stderr, /\[#+\] 3\/3 shelves/);
      const onlyMissing = await run(process.execPath, ["--import", "tsx", "src/cli/media.ts", "regenerate", "--only-missing", "--preset", "thumb"], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: { ...process.env, NODE_ENV: "test", DATA_DIR: first.dataDir, MEDIA_PRESETS: presets, VIDEO_POSTER_POSITIONS: "" },
      });
      assert.match(onlyMissing.stdout, /regenerated 0 version\(s\) of 3 shelf\(s\)/);
      // A run cut short after the first shelf (in id order) carries on from its checkpoint.
      const sorted = shelves.map((x) => x.id).sort();
      await fs.writeFile(path.join(first.dataDir, "regenerate.checkpoint.json"), JSON.stringify({ lastShelfId: sorted[0] }));
      const resumed = await run(process.execPath, ["--import", "tsx", "src/cli/media.ts", "regenerate", "--resume", "--only-missing", "--preset", "small"], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: { ...process.env, NODE_ENV: "test", DATA_DIR: first.dataDir, MEDIA_PRESETS: presets, VIDEO_POSTER_POSITIONS: "" },
      });
      assert.match(resumed.stdout, new RegExp(`resuming after shelf ${sorted[0]}`));
      assert.match(resumed.stdout, /regenerated 2 version\(s\) of 2 shelf\(s\)/);
      await assert.rejects(fs.access(path.join(first.dataDir, "regenerate.checkpoint.json")), "a finished run leaves no checkpoint");
      const third = await startTestServer("pglite", { ...DEFAULT_VERSIONS, DATA_DIR: first.dataDir, MEDIA_PRESETS: presets });
      try {
        for (const [i, shelf] of shelves.entries()) {
          const thumb = await version(third, shelf.id, "thumb");
          assert.deepEqual([thumb.status, thumb.stale, thumb.mimeType, thumb.width, thumb.height], ["READY", false, "image/jpeg", 120, 120]);
          assert.notEqual(thumb.name, oldThumbs[i]!.name);
          const meta = await sharp((await fetchBytes(third, thumb.url)).body).metadata();
          assert.deepEqual([meta.format, meta.width], ["jpeg", 120]);
        }
        const stored = await listFiles(third.mediaRoot);
        for (const old of oldThumbs) assert.ok(!stored.includes(old.name), `${old.name} is still stored`);
      } finally {
        await third.close();
      }
    } finally {
      await fs.rm(first.sandbox, { recursive: true, force: true });
    }
  });
});
