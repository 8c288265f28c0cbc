import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// Produces every generated file: the Prisma client (from prisma/schema.prisma) and the GraphQL
// resolver and client types (from schema.graphql). Runs on install and before the tests.
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));

// `prisma generate` wants a schema-engine binary on disk although generating never runs it; the
// service itself needs no native engine (driver adapters for queries, WebAssembly for migrations).
const anyExecutable = ["/usr/bin/true", "/bin/true"].find((p) => existsSync(p)) ?? process.execPath;
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? anyExecutable, PRISMA_HIDE_UPDATE_MESSAGE: "1" };

execFileSync(bin("prisma"), ["generate"], { cwd: root, env, stdio: ["ignore", "ignore", "inherit"] });
// The GraphQL types are needed to type-check and test, not to run: a production install without
// development dependencies has no generator and needs none.
if (existsSync(bin("graphql-codegen"))) {
  execFileSync(bin("graphql-codegen"), ["--config", "codegen.ts", "--silent"], { cwd: root, env, stdio: "inherit" });
  console.log("generated: Prisma client, GraphQL resolver and client types");
} else {
  console.log("generated: Prisma client (GraphQL types need the development dependencies)");
}
