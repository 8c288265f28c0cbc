import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { UploadShelfDocument } from "./generated/graphql.js";
import { upload } from "./helpers/graphql.js";
import { makeImage } from "./helpers/media.js";
import { adminQuery, databaseFlavours, listFiles, POSTGRES_ADMIN_URL, startTestServer } from "./helpers/server.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
const tempDirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "media-cli-"));
  tempDirs.push(dir);
  return dir;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function npm(args: string[], env: Record<string, string>) {
  return run("npm", ["--silent", ...args], { cwd: root, env: { ...process.env, NODE_ENV: "", ...env }, timeout: 120_000 });
}

after(async () => {
  for (const dir of tempDirs) await fs.rm(dir, { recursive: true, force: true });
});

describe("the commands in the README", () => {
  it("npm start runs the service on the embedded default with nothing else to set up", async () => {
    const dataDir = await tempDir();
    const port = await freePort();
    const child = spawn("npm", ["start"], { cwd: root, env: { ...process.env, NODE_ENV: "", DATA_DIR: dataDir, PORT: String(port) }, detached: true });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    try {
      const deadline = Date.now() + 60_000;
      while (!output.includes("listening on") && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      assert.match(output, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}/graphql`), output);
      assert.match(output, /single local owner "local"/);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.deepEqual(await health.json(), { status: "ok" });
      const res = await upload(`http://127.0.0.1:${port}`, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes: await makeImage(8, 8), filename: "start.jpg" },
      ]);
      assert.equal(res.errors, undefined);
      // The original, and nothing else but its eager versions.
      const stored = await listFiles(path.join(dataDir, "media"));
      assert.deepEqual(stored.filter((f) => !f.startsWith(`versions/${res.data!.uploadShelf.id}/`)), [res.data!.uploadShelf.original.name]);
      await fs.access(path.join(dataDir, "db"));
    } finally {
      process.kill(-child.pid!, "SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
      // npm may exit before the service under it has finished stopping: wait for the whole group.
      for (const deadline = Date.now() + 30_000; groupAlive(child.pid!) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    }
  });

  it("npm run db:migrate applies pending migrations once, on the embedded database", async () => {
    const dataDir = await tempDir();
    const first = await npm(["run", "db:migrate"], { DATA_DIR: dataDir });
    assert.match(first.stdout, /applied: \d{14}_init/);
    const second = await npm(["run", "db:migrate"], { DATA_DIR: dataDir });
    assert.match(second.stdout, /database is up to date/);
  });

  it("npm run db:migrate applies pending migrations once, on PostgreSQL", async (t) => {
    if (!(await databaseFlavours()).includes("postgresql")) return t.skip("no PostgreSQL server reachable");
    const name = `media_cli_${process.pid}_${Date.now()}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(POSTGRES_ADMIN_URL);
      url.pathname = `/${name}`;
      const first = await npm(["run", "db:migrate"], { DATABASE_URL: url.toString() });
      assert.match(first.stdout, /applied: \d{14}_init/);
      const second = await npm(["run", "db:migrate"], { DATABASE_URL: url.toString() });
      assert.match(second.stdout, /database is up to date/);
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

  it("npm run media -- apikey creates, lists and revokes keys", async () => {
    const dataDir = await tempDir();
    const created = await npm(["run", "media", "--", "apikey", "create", "--owner", "shop", "--name", "shop backend"], { DATA_DIR: dataDir });
    const key = /^mk_[0-9a-f]{16}_\S{43}$/m.exec(created.stdout)?.[0];
    assert.ok(key, created.stdout);
    const id = key.split("_")[1]!;
    const listed = await npm(["run", "media", "--", "apikey", "list"], { DATA_DIR: dataDir });
    assert.match(listed.stdout, new RegExp(`${id}  shop backend  owner=shop  created=\\S+  last-used=never`));
    assert.ok(!listed.stdout.includes(key.slice(`mk_${id}_`.length)), "the secret is never shown again");
    const revoked = await npm(["run", "media", "--", "apikey", "revoke", id], { DATA_DIR: dataDir });
    assert.match(revoked.stdout, new RegExp(`revoked ${id}`));
    assert.match((await npm(["run", "media", "--", "apikey", "list"], { DATA_DIR: dataDir })).stdout, /revoked=/);
  });

  it("npm run media -- gc removes old orphans and keeps recorded files and young objects", async () => {
    const server = await startTestServer("pglite");
    const dataDir = await tempDir();
    let kept: string;
    try {
      const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
        { variable: "input.file", bytes: await makeImage(8, 8), filename: "kept.jpg" },
      ]);
      kept = res.data!.uploadShelf.original.name;
    } finally {
      await server.app.close();
    }
    await fs.cp(server.dataDir, dataDir, { recursive: true });
    await fs.rm(server.dataDir, { recursive: true, force: true });
    const media = path.join(dataDir, "media");
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const orphan of [".incoming/abandoned.jpg", "image/2020/01/x/orphan.jpg", "image/2020/01/x/.orphan.jpg.abc.part"]) {
      await fs.mkdir(path.dirname(path.join(media, orphan)), { recursive: true });
      await fs.writeFile(path.join(media, orphan), "x");
      await fs.utimes(path.join(media, orphan), old, old);
    }
    await fs.writeFile(path.join(media, ".incoming/in-flight.jpg"), "x");
    await fs.utimes(path.join(media, kept), old, old);

    const dry = await npm(["run", "media", "--", "gc", "--dry-run"], { DATA_DIR: dataDir });
    assert.match(dry.stdout, /found 3 orphan/);
    assert.equal((await listFiles(media)).length, 5);
    const real = await npm(["run", "media", "--", "gc"], { DATA_DIR: dataDir });
    assert.match(real.stdout, /removed 3 orphan/);
    assert.deepEqual(await listFiles(media), [".incoming/in-flight.jpg", kept].sort());
  });
});
