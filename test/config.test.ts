import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../src/config.js";
import { renderUploadRoute } from "../src/storage/routes.js";

async function withConfigFile(content: unknown, fn: (file: string) => void): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "media-cfg-"));
  try {
    const file = path.join(dir, "storage.json");
    await fs.writeFile(file, typeof content === "string" ? content : JSON.stringify(content));
    fn(file);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const refused = (pattern: RegExp) => (err: unknown) => err instanceof ConfigError && pattern.test(err.message);

describe("configuration", () => {
  it("defaults to the embedded database and local files under ./data", () => {
    const config = loadConfig({});
    assert.equal(config.port, 4000);
    assert.equal(config.embeddedDbDir, path.resolve("data/db"));
    assert.equal(config.mediaRoot, path.resolve("data/media"));
    assert.equal(config.mediaUrl, "/media/");
    assert.deepEqual(config.storage.storages, { default: { backend: "filesystem", options: {} } });
  });

  it("builds one S3 backend from the environment", () => {
    const config = loadConfig({ STORAGE: "s3", S3_BUCKET: "b", S3_ENDPOINT: "http://127.0.0.1:9000", S3_FORCE_PATH_STYLE: "true", S3_SERVE: "proxy", S3_OBJECT_PARAMETERS: '{"CacheControl":"max-age=60"}' });
    const s3 = config.storage.storages.default!;
    assert.equal(s3.backend, "s3");
    assert.deepEqual(s3.options, { bucket: "b", endpoint: "http://127.0.0.1:9000", forcePathStyle: true, serve: "proxy", objectParameters: { CacheControl: "max-age=60" } });
  });

  it("refuses bad settings with a message that names them", async () => {
    assert.throws(() => loadConfig({ STORAGE: "s3" }), refused(/bucket/));
    assert.throws(() => loadConfig({ STORAGE: "ftp" }), refused(/backend/));
    assert.throws(() => loadConfig({ PORT: "http" }), refused(/PORT/));
    assert.throws(() => loadConfig({ DATABASE_URL: "mysql://x" }), refused(/DATABASE_URL/));
    assert.throws(() => loadConfig({ MEDIA_SIGNING_KEY: "short" }), refused(/MEDIA_SIGNING_KEY/));
    await withConfigFile({ storages: { other: { backend: "memory" } } }, (file) =>
      assert.throws(() => loadConfig({ STORAGE_CONFIG: file }), refused(/"default" is required/)),
    );
    await withConfigFile({ storages: { default: { backend: "memory" } }, routing: { IMAGE: { original: "nope" } } }, (file) =>
      assert.throws(() => loadConfig({ STORAGE_CONFIG: file }), refused(/unknown storage "nope"/)),
    );
    await withConfigFile({ storages: { default: { backend: "memory" } }, uploadRoutes: { "*": "{kind}/{year}/{name}" } }, (file) =>
      assert.throws(() => loadConfig({ STORAGE_CONFIG: file }), refused(/Unknown token \{year\}/)),
    );
    await withConfigFile("{ not json", (file) => assert.throws(() => loadConfig({ STORAGE_CONFIG: file }), refused(/Invalid storage configuration/)));
  });

  it("names the JSON setting that does not parse, and the field that is wrong", async () => {
    const s3 = { STORAGE: "s3", S3_BUCKET: "b" };
    assert.throws(() => loadConfig({ MEDIA_KIND_RULES: "[" }), refused(/^Invalid MEDIA_KIND_RULES: it is not valid JSON/));
    assert.throws(() => loadConfig({ MEDIA_PRESETS: "{" }), refused(/^Invalid MEDIA_PRESETS: it is not valid JSON/));
    assert.throws(() => loadConfig({ ...s3, S3_OBJECT_PARAMETERS: "{x" }), refused(/^Invalid S3_OBJECT_PARAMETERS: it is not valid JSON/));
    assert.throws(() => loadConfig({ ...s3, S3_OBJECT_PARAMETERS: '{"Colour":"red"}' }), refused(/storages\.default\.options\.objectParameters: .*Colour/));
    assert.throws(() => loadConfig({ MEDIA_KIND_RULES: '{"PHOTO": {}}' }), refused(/^Invalid MEDIA_KIND_RULES:\n {2}\(top level\): .*PHOTO/));
    await withConfigFile("[1,", (file) => assert.throws(() => loadConfig({ STORAGE_CONFIG: file }), refused(/^Invalid storage configuration in .*: it is not valid JSON/)));
  });

  it("reads the S3 switches and numbers as it always has", () => {
    const options = (env: Record<string, string>) => loadConfig({ STORAGE: "s3", S3_BUCKET: "b", ...env }).storage.storages.default!.options;
    assert.deepEqual(options({ S3_FORCE_PATH_STYLE: "YES", S3_QUERYSTRING_AUTH: "off", S3_FILE_OVERWRITE: "1", S3_QUERYSTRING_EXPIRE: "600" }), {
      bucket: "b",
      forcePathStyle: true,
      querystringAuth: false,
      fileOverwrite: true,
      querystringExpire: 600,
    });
    assert.deepEqual(options({ S3_ACCESS_KEY_ID: "id", S3_SECRET_ACCESS_KEY: "secret", S3_REGION: "" }), {
      bucket: "b",
      credentials: { accessKeyId: "id", secretAccessKey: "secret", sessionToken: undefined },
    });
    assert.throws(() => loadConfig({ STORAGE: "s3", S3_BUCKET: "b", S3_QUERYSTRING_EXPIRE: "soon" }), refused(/querystringExpire/));
  });

  it("fills upload routes with values that can never add directories", () => {
    const now = new Date(Date.UTC(2026, 0, 5));
    assert.equal(
      renderUploadRoute("{kind}/{yyyy}/{mm}/{dd}/{owner}/{shelf}/{name}.{ext}", { kind: "IMAGE", owner: "../../root", shelf: "s1", name: "My Photo", ext: "JPG", now }),
      "image/2026/01/05/root/s1/My_Photo.jpg",
    );
    assert.match(renderUploadRoute("{uuid}.{ext}", { kind: "IMAGE", owner: "o", shelf: "s", name: "n", ext: "png" }), /^[0-9a-f-]{36}\.png$/);
  });
});
