import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's Chromium, driven without any download; these flags keep it from calling home. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export interface GuardedBrowser {
  context: BrowserContext;
  /** A page whose requests, console errors and uncaught exceptions are recorded in `problems`. */
  newPage(): Promise<Page>;
  /** Every request that failed or went off the machine, every console error, every page exception. */
  problems: string[];
  close(): Promise<void>;
}

/**
 * Headless Chromium with a fresh profile in which every request for a host other than loopback
 * is aborted: a page that needs the network (a CDN, a web font) shows up as a failed request.
 */
export async function launchGuardedBrowser(): Promise<GuardedBrowser> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), "chromium-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
  });
  const problems: string[] = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (/^(https?|wss?):$/.test(url.protocol) && !LOOPBACK.has(url.hostname)) {
      problems.push(`off-machine request blocked: ${url.href}`);
      return route.abort("blockedbyclient");
    }
    return route.continue();
  });
  return {
    context,
    problems,
    async newPage() {
      const page = await context.newPage();
      page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console error: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      return page;
    },
    async close() {
      await context.close();
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}

export interface Chromium {
  context: BrowserContext;
  /** Requests that did not complete (network errors, CORS refusals, aborted non-loopback requests). */
  failedRequests: string[];
  close(): Promise<void>;
}

/**
 * The same guarded browser for tests that open their pages on the context themselves and only
 * need the requests that failed on any of them.
 */
export async function launchChromium(): Promise<Chromium> {
  const browser = await launchGuardedBrowser();
  const failedRequests: string[] = [];
  browser.context.on("requestfailed", (request) =>
    failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
  );
  return { context: browser.context, failedRequests, close: () => browser.close() };
}
