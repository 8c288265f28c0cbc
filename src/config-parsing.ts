import { z } from "zod";

/** How setting values become checked data, with messages that name the setting and the field. */

export class ConfigError extends Error {}

/** One line per issue, "  field.path: message"; a whole-value issue is shown as "(top level)". */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `  ${i.path.join(".") || "(top level)"}: ${i.message}`).join("\n");
}

/** `value` checked against `schema`, or a ConfigError listing every issue under `name`. */
export function checkSetting<S extends z.ZodType>(name: string, value: unknown, schema: S): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`Invalid ${name}:\n${formatIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** A setting that holds JSON (an environment variable or a file's text), parsed and checked. */
export function parseJsonSetting<S extends z.ZodType>(name: string, json: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`Invalid ${name}: it is not valid JSON (${(err as Error).message})`);
  }
  return checkSetting(name, raw, schema);
}

/** A comma-separated list, each entry trimmed, empty entries dropped. */
export function commaList(list: string | undefined): string[] {
  return (list ?? "").split(",").map((entry) => entry.trim()).filter(Boolean);
}
