import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export interface Chromium {
  context: BrowserContext;
  /** Requests that did not complete (network errors, CORS refusals, aborted non-loopback requests). */
  failedRequests: string[];
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The system's Chromium, headless, in a fresh profile, with every request to a host other
 * than loopback aborted: nothing a page does may reach outside the machine.
 */
export async function launchChromium(): Promise<Chromium> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), "chromium-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const failedRequests: string[] = [];
  await context.route("**/*", (route) => {
    const { hostname } = new URL(route.request().url());
    return LOOPBACK.has(hostname) || hostname === "::1" ? route.continue() : route.abort();
  });
  context.on("requestfailed", (request) => failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
  return {
    context,
    failedRequests,
    async close() {
      await context.close();
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}
