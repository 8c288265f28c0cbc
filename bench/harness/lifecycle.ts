import { cleanupSync, killChildren } from "./children.js";

/**
 * How a benchmark runs and ends: a watchdog, SIGINT/SIGTERM, and cleanups registered as things are
 * made (a database, a server, a pool) undone newest first on every exit path, so a pool is closed
 * before the database it uses is dropped.
 */

const cleanups: Array<{ label: string; run: () => Promise<void> }> = [];

/** Registers an undo step; the function returned runs it early (once) and unregisters it. */
export function onCleanup(label: string, run: () => Promise<void>): () => Promise<void> {
  const entry = { label, run };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await run();
  };
}

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const { label, run } = cleanups.pop()!;
    try {
      await run();
    } catch (err) {
      console.error(`cleanup (${label}) failed: ${(err as Error).message}`);
    }
  }
}

let finishing: Promise<never> | undefined;

/** Children first (they may hold what the cleanups remove), then the cleanups, then temp dirs. */
function finish(code: number): Promise<never> {
  finishing ??= (async () => {
    killChildren();
    await runCleanups();
    cleanupSync();
    process.exit(code);
  })();
  return finishing;
}

/** Runs `main` as the benchmark `name`: exit 0 when it returns (targets met or not), 1 when it fails. */
export function runBenchmark(name: string, main: () => Promise<void>, options: { timeoutMs: number }): void {
  const watchdog = setTimeout(() => {
    console.error(`${name}: gave up after ${options.timeoutMs / 1000} s`);
    void finish(1);
  }, options.timeoutMs);
  watchdog.unref();
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      console.error(`\n${name}: ${signal}, cleaning up`);
      void finish(code);
    });
  }
  process.once("exit", cleanupSync);
  main().then(
    () => finish(0),
    (err: unknown) => {
      console.error(`\n${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return finish(1);
    },
  );
}

/** Runs a child script's `main`: exit 0 when it returns, 1 (with the error printed) when it fails. */
export function runChildScript(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
