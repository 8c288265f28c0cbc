import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import * as bindings from "@prisma/schema-engine-wasm/schema_engine_bg";
import type { SchemaEngine } from "@prisma/schema-engine-wasm/schema_engine_bg";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";

export type { SchemaEngine };

/** A line the engine logged, already decoded from its JSON form. */
export interface EngineLogLine {
  level: string;
  message: string;
}

export interface StartedSchemaEngine {
  engine: SchemaEngine;
  /**
   * Must be called when done: the engine never disposes the connection it opened, and on
   * PostgreSQL that connection holds the migration advisory lock until it is closed.
   */
  close(): Promise<void>;
}

let loaded: Promise<void> | undefined;

/**
 * The package's own entry point imports its `.wasm` as an ES module, which Node 20 cannot do, so
 * we instantiate the same bindings by hand. A second instantiation would replace the memory under
 * engines already running, hence once per process.
 */
function loadEngine(): Promise<void> {
  loaded ??= (async () => {
    const js = createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const module = await WebAssembly.compile(await readFile(js.replace(/\.js$/, ".wasm")));
    // Each migration run arms a 10 s timer (the advisory-lock timeout) that is never cleared, so an
    // unref'd one keeps a finished CLI run from hanging on for 10 s.
    const imports = Object.fromEntries(
      Object.entries(bindings).map(([name, value]) =>
        name.startsWith("__wbg_setTimeout_")
          ? [name, (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref()]
          : [name, value],
      ),
    );
    const instance = await WebAssembly.instantiate(module, { "./schema_engine_bg.js": imports });
    // Without a registry an engine panic surfaces as "cannot read properties of undefined".
    // Prisma Client installs its own when it loads; either one keeps the panic message.
    const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } };
    g.PRISMA_WASM_PANIC_REGISTRY ??= {
      set_message(message) {
        throw new Error(`Prisma schema engine panicked: ${message}`);
      },
    };
    bindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })();
  loaded.catch(() => (loaded = undefined));
  return loaded;
}

/**
 * Starts an engine on `factory`'s database. `schema` is the Prisma schema the engine parses for
 * its datasource; `log` receives the engine's tracing lines, which are otherwise dropped.
 */
export async function startSchemaEngine(
  factory: SqlMigrationAwareDriverAdapterFactory,
  schema: { path: string; content: string },
  log: (line: EngineLogLine) => void = () => {},
): Promise<StartedSchemaEngine> {
  await loadEngine();
  const opened: SqlDriverAdapter[] = [];
  const tracked: SqlMigrationAwareDriverAdapterFactory = {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => {
      const adapter = sendScriptsWhole(await factory.connect());
      opened.push(adapter);
      return adapter;
    },
    // The engine disposes shadow databases itself (for PrismaPg that drops the database).
    connectToShadowDb: async () => sendScriptsWhole(await factory.connectToShadowDb()),
  };
  const disposeOpened = () => Promise.allSettled(opened.splice(0).map((adapter) => adapter.dispose()));
  let engine: SchemaEngine;
  try {
    engine = await bindings.SchemaEngine.new(
      { datamodels: [[schema.path, schema.content]] },
      (line: string) => log(decodeLogLine(line)),
      bindMigrationAwareSqlAdapterFactory(tracked),
    );
  } catch (error) {
    await disposeOpened();
    throw error;
  }
  return {
    engine,
    async close() {
      try {
        engine.free();
      } catch {
        // After a panic the engine stays borrowed and cannot be freed; the connections still must be.
      }
      await disposeOpened();
    },
  };
}

/**
 * The native engine sends a migration as one simple-protocol query: atomic unless the script
 * manages its own transactions. The adapters do not. pglite-prisma-adapter 0.7.2 starts `exec`
 * without awaiting it, so a failing migration is recorded as applied and its error escapes as an
 * unhandled rejection. @prisma/adapter-pg 7.10 splits the script at every ";" (breaking quoted and
 * dollar-quoted semicolons) and runs the pieces on whichever pooled connection is free, so a
 * failure leaves a half-applied migration. Both drivers run a parameterless script whole.
 */
const runWhole: Record<string, (client: never, script: string) => Promise<unknown>> = {
  "pglite-prisma-adapter": (client: { exec(sql: string): Promise<unknown> }, script) => client.exec(script),
  "@prisma/adapter-pg": (client: { query(sql: string): Promise<unknown> }, script) => client.query(script),
};

function sendScriptsWhole(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const run = runWhole[adapter.adapterName];
  const internals = adapter as unknown as { client?: never; onError?: (error: unknown) => never };
  const client = internals.client;
  if (!run || !client) return adapter;
  adapter.executeScript = async (script) => {
    try {
      await run(client, script);
    } catch (error) {
      // onError wraps database errors in the DriverAdapterError the engine reports from.
      internals.onError?.(error);
      throw error;
    }
  };
  return adapter;
}

function decodeLogLine(line: string): EngineLogLine {
  try {
    const { level, fields } = JSON.parse(line) as { level?: string; fields?: { message?: string } };
    const { message, ...rest } = fields ?? {};
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : "";
    return { level: level ?? "INFO", message: `${message ?? ""}${extra}` };
  } catch {
    return { level: "INFO", message: line.trim() };
  }
}
