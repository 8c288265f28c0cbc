import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { loadConfig } from "../src/config.js";

const run = promisify(execFile);

/** The image concurrency a process limited to `cpus` CPUs (taskset) configures itself with. */
async function imageConcurrencyOn(cpus: number, env: Record<string, string> = {}): Promise<number> {
  const script = 'import("./src/config.ts").then((m) => console.log(m.loadConfig(process.env).jobs.imageConcurrency))';
  const { stdout } = await run("taskset", ["-c", Array.from({ length: cpus }, (_, i) => i).join(","), process.execPath, "--import", "tsx", "-e", script], {
    cwd: path.resolve(import.meta.dirname, ".."),
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  return Number(stdout.trim());
}

describe("image job concurrency", () => {
  it("defaults to the CPUs this process may use", async () => {
    assert.equal(loadConfig({}).jobs.imageConcurrency, os.availableParallelism());
    assert.equal(await imageConcurrencyOn(1), 1, "one CPU: one image at a time");
  });

  it("JOBS_IMAGE_CONCURRENCY overrides it", async () => {
    assert.equal(loadConfig({ JOBS_IMAGE_CONCURRENCY: "5" }).jobs.imageConcurrency, 5);
    assert.equal(await imageConcurrencyOn(1, { JOBS_IMAGE_CONCURRENCY: "3" }), 3);
  });
});
