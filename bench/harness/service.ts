import { execFileSync } from "node:child_process";
import { startChild, waitForLine, type Child } from "./children.js";
import { REPO_ROOT, secondsSince } from "./settings.js";

/** The real service as a child process: a clean environment of its own, ready when it says so. */

export interface ServiceChild {
  label: string;
  child: Child;
  dataDir: string;
  /** http://127.0.0.1:<port>, without /graphql. */
  url: string;
  startupSeconds: number;
}

const READY_TIMEOUT_MS = 90_000;

/** Settings of the caller's environment that would change what the service under test does. */
const SERVICE_SETTINGS =
  /^(DATABASE_URL|AUTH_.*|MEDIA_.*|STORAGE.*|S3_.*|BENCH_.*|VIDEO_POSTER_POSITIONS|VERSION_WAIT_MS|TRANSFORM_MAX_SIZE|IMAGE_.*|HOST|PORT|DATA_DIR|NODE_ENV)$/;

/**
 * The service's environment: the caller's without its service settings, then production on a
 * port of its own (PORT=0) with `dataDir`, the embedded database unless `databaseUrl`, and `extra`.
 */
export function serviceEnv(dataDir: string, databaseUrl?: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (SERVICE_SETTINGS.test(key)) delete env[key];
  return {
    ...env,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: dataDir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...extra,
  };
}

/** Starts Node with `args` (e.g. ["lib/main.js"]) and waits for the service's "listening on" line. */
export async function startServiceChild(label: string, args: string[], env: NodeJS.ProcessEnv): Promise<ServiceChild> {
  const started = performance.now();
  const child = startChild(`service (${label})`, args, env);
  const match = await waitForLine(child, /listening on (http:\/\/\S+)\/graphql/, READY_TIMEOUT_MS);
  return { label, child, dataDir: env.DATA_DIR!, url: match[1]!, startupSeconds: secondsSince(started) };
}

/** Compiles src/ to lib/ (`npm run build`), so the service runs as `npm start` runs it. */
export function buildService(): void {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
}
