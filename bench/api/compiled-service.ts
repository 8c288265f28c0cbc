import { buildService } from "../harness/service.js";

/**
 * The service as production runs it: compiled to lib/ as `npm start` runs it, with NODE_ENV set
 * before its modules load (graphql-js and express read it at load time). Import this module before
 * anything that loads them.
 */
process.env.NODE_ENV = "production";
buildService();
export const { startApp } = (await import(new URL("../../lib/app.js", import.meta.url).href)) as typeof import("../../src/app.js");
export const { loadConfig } = (await import(new URL("../../lib/config.js", import.meta.url).href)) as typeof import("../../src/config.js");
