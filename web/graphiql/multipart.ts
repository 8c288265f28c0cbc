/**
 * The GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec):
 * an `operations` field with null where each file goes, a `map` from file field to those places,
 * then the files, in that order.
 */

export interface OperationParams {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

export interface FileAtPath {
  path: string;
  file: Blob & { name?: string };
}

const SEGMENT = /^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)$/;

/** The segments of a variable path such as `input.files.0`; throws a readable error when malformed. */
export function parseVariablePath(path: string): string[] {
  const segments = path.trim().split(".");
  // __proto__ is a name GraphQL reserves anyway; as a key it would reach Object.prototype.
  if (!segments.every((s) => SEGMENT.test(s) && s !== "__proto__") || /^\d/.test(segments[0]!)) {
    throw new Error(`"${path}" is not a variable path such as file, input.file or input.files.0`);
  }
  return segments;
}

/** Puts `value` at `segments` below `target`, making the objects and lists on the way. */
function setAt(target: Record<string, unknown>, segments: string[], value: unknown): void {
  let node: Record<string, unknown> | unknown[] = target;
  segments.forEach((segment, i) => {
    const key = /^\d+$/.test(segment) ? Number(segment) : segment;
    const last = i === segments.length - 1;
    const container = node as Record<string | number, unknown>;
    if (last) {
      container[key] = value;
      return;
    }
    const wantsList = /^\d+$/.test(segments[i + 1]!);
    const existing = container[key];
    if (existing === null || typeof existing !== "object") container[key] = wantsList ? [] : {};
    node = container[key] as Record<string, unknown> | unknown[];
  });
}

export function multipartForm(operation: OperationParams, files: FileAtPath[]): FormData {
  const variables = structuredClone(operation.variables ?? {}) as Record<string, unknown>;
  const map: Record<string, string[]> = {};
  files.forEach((entry, i) => {
    const segments = parseVariablePath(entry.path);
    setAt(variables, segments, null);
    map[String(i)] = [`variables.${segments.join(".")}`];
  });
  const form = new FormData();
  form.append("operations", JSON.stringify({ query: operation.query, operationName: operation.operationName ?? undefined, variables }));
  form.append("map", JSON.stringify(map));
  files.forEach((entry, i) => form.append(String(i), entry.file, entry.file.name ?? `file-${i}`));
  return form;
}
