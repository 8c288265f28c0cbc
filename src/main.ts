import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { closeOnSignal } from "./shutdown.js";

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
  closeOnSignal("shutting down", () => app.close());
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
