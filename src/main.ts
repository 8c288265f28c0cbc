import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";

/** Process entry: load the configuration, start the service, shut down cleanly on a signal. */
async function main(): Promise<void> {
  const config = loadConfig();
  const app = await startApp(config);
  const database = config.databaseUrl ? "PostgreSQL" : `the embedded database in ${config.embeddedDbDir}`;
  console.log(`media library listening on ${app.url}/graphql (${database}; files in ${config.mediaRoot})`);
  if (!config.auth.jwtSecret && !config.auth.jwksUrl) {
    console.warn(
      `no AUTH_JWT_SECRET or AUTH_JWKS_URL set: every request acts as the single local owner "${config.auth.localOwnerId}" (quick start only)`,
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received, shutting down`);
    app.close().then(
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

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
