import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MediaFile } from "../src/db/generated/client.js";
import { VersionCatalogue } from "../src/media/versions/catalogue.js";
import { recipeDigest, resolvePresets, type Recipe } from "../src/transcode/presets.js";

/** Presets and recipes, without a server: the catalogue is pure. */
describe("recipe digests", () => {
  it("are the same whatever the order of a recipe's keys, and ignore keys left undefined", () => {
    const a: Recipe = { type: "image", width: 200, height: 200, fit: "cover", format: "webp", quality: 80 };
    const b = { quality: 80, format: "webp", fit: "cover", height: 200, width: 200, type: "image" } as Recipe;
    assert.equal(recipeDigest(a), recipeDigest(b));
    assert.equal(recipeDigest({ ...a, height: undefined, width: 200 }), recipeDigest({ type: "image", width: 200, fit: "cover", format: "webp", quality: 80 }));
    assert.match(recipeDigest(a), /^[0-9a-f]{16}$/);
  });

  it("change with any field of the recipe", () => {
    const base: Recipe = { type: "audio", codec: "mp3", bitrateK: 128 };
    assert.notEqual(recipeDigest(base), recipeDigest({ ...base, bitrateK: 96 }));
    assert.notEqual(recipeDigest(base), recipeDigest({ ...base, codec: "aac" }));
  });
});

describe("preset overrides", () => {
  it("merge changed fields onto the default of that name, add presets and remove them", () => {
    const presets = resolvePresets({
      IMAGE: { thumb: { recipe: { width: 120, format: "jpeg" } }, small: null, tiny: { eager: true, recipe: { type: "image", width: 32 } } },
    });
    const thumb = presets.get("IMAGE", "thumb")!;
    assert.deepEqual(thumb.recipe, { type: "image", width: 120, height: 200, fit: "cover", format: "jpeg", quality: 80 });
    assert.equal(thumb.eager, true, "eager is kept from the default");
    assert.equal(presets.get("IMAGE", "small"), undefined);
    assert.deepEqual(presets.get("IMAGE", "tiny"), { name: "tiny", kind: "IMAGE", eager: true, recipe: { type: "image", width: 32, fit: "inside", format: "webp", quality: 80 } });
    assert.deepEqual(presets.forKind("IMAGE").map((p) => p.name), ["thumb", "medium", "large", "tiny"]);
    assert.deepEqual(presets.forKind("AUDIO").map((p) => p.name), ["mp3-128k", "aac-128k", "opus-96k"], "other kinds keep their defaults");
  });

  it("refuse a recipe that is not valid, or that is another kind's, naming the preset", () => {
    assert.throws(() => resolvePresets({ IMAGE: { thumb: { recipe: { quality: 0 } } } }), /IMAGE preset "thumb": quality/);
    assert.throws(() => resolvePresets({ AUDIO: { wave: { recipe: { type: "image", width: 10 } } } }), /AUDIO preset "wave" has a image recipe/);
  });
});

describe("version catalogue", () => {
  const catalogue = new VersionCatalogue(resolvePresets(), { transforms: "any", maxTransformSize: 4096 });
  const file = (fields: Partial<MediaFile>) => ({ role: "VERSION", preset: null, recipe: null, ...fields }) as MediaFile;

  it("lists a kind's presets with what they make", () => {
    assert.deepEqual(catalogue.presetsOf("AUDIO").map((p) => [p.name, p.mimeType]), [["mp3-128k", "audio/mpeg"], ["aac-128k", "audio/mp4"], ["opus-96k", "audio/ogg"]]);
    assert.deepEqual(catalogue.eagerSpecs("VIDEO").map((s) => s.variant), ["mp4-720p"]);
    assert.deepEqual(catalogue.presetsOf("DOCUMENT"), []);
  });

  it("refuses an unknown preset naming the kind's presets", () => {
    assert.throws(() => catalogue.requirePreset("IMAGE", "huge"), { code: "BAD_USER_INPUT", message: /its presets are thumb, small, medium, large/ });
    assert.throws(() => catalogue.requirePreset("DOCUMENT", "x"), { message: /DOCUMENT shelves have no presets/ });
  });

  it("tells a current version from a stale one by its recipe's digest", () => {
    const digest = recipeDigest(catalogue.presetSpec("IMAGE", "thumb")!.recipe);
    const current = file({ variant: "thumb", preset: "thumb", recipe: digest });
    const stale = file({ variant: "thumb", preset: "thumb", recipe: "0000000000000000" });
    assert.equal(catalogue.currentIn([current], "IMAGE", "thumb"), current);
    assert.equal(catalogue.currentIn([stale], "IMAGE", "thumb"), undefined);
    assert.equal(catalogue.isStale(current, "IMAGE"), false);
    assert.equal(catalogue.isStale(stale, "IMAGE"), true);
    assert.equal(catalogue.isStale({ ...stale, role: "ORIGINAL" }, "IMAGE"), false, "an original is never stale");
  });

  it("keys a transform by its normalised input; a side beyond the original's shares the original's version", () => {
    const original = { width: 300, height: 200 };
    const wide = catalogue.transformSpec("IMAGE", { width: 4000 }, original);
    const exact = catalogue.transformSpec("IMAGE", { width: 300, fit: "inside", format: "webp", quality: 80 }, original);
    assert.equal(wide.variant, exact.variant);
    assert.match(wide.variant, /^t-[0-9a-f]{16}$/);
    assert.equal(wide.preset, null);
    assert.notEqual(catalogue.transformSpec("IMAGE", { width: 100 }, original).variant, wide.variant);
    for (const bad of [{ width: 0 }, { width: 5000 }, { width: 10, quality: 101 }, {}]) {
      assert.throws(() => catalogue.transformSpec("IMAGE", bad, original), { code: "BAD_USER_INPUT" }, JSON.stringify(bad));
    }
  });

  it("refuses transforms when only presets are allowed", () => {
    const presetsOnly = new VersionCatalogue(resolvePresets(), { transforms: "presets-only", maxTransformSize: 4096 });
    assert.throws(() => presetsOnly.transformSpec("IMAGE", { width: 10 }, undefined), { code: "BAD_USER_INPUT", message: /turned off/ });
  });
});
