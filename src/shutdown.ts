/**
 * Runs `close` once on the first SIGINT or SIGTERM, then exits: 0 when it finished, 1 when it
 * failed. Shared by the service and the worker process.
 */
export function closeOnSignal(what: string, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received, ${what}`);
    close().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}
