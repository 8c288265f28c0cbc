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
    const instance = await WebAssembly.instantiate(module, { "./schema_engine_bg.js": bindings });
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
 * its datasource; `log` receives the engine's tracing output (INFO and up), which is otherwise
 * dropped.
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
      const adapter = await factory.connect();
      opened.push(adapter);
      return adapter;
    },
    // The engine disposes shadow databases itself (for PrismaPg that drops the database).
    connectToShadowDb: () => factory.connectToShadowDb(),
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
      engine.free();
      await disposeOpened();
    },
  };
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
