import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { UploadShelfDocument, UploadShelvesDocument } from "../generated/graphql.js";

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string; stacktrace?: unknown } }>;
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
}

/** Sends a typed GraphQL document as JSON. */
export async function gql<T, V>(
  url: string,
  document: TypedDocumentNode<T, V>,
  variables: V,
  options: RequestOptions = {},
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

export interface UploadFile {
  /** Path of the variable the file fills, e.g. "input.file" or "input.files.0". */
  variable: string;
  bytes: Uint8Array;
  filename: string;
  /** What the client claims; the service must not believe it. */
  contentType?: string;
}

/** Builds a GraphQL multipart request (operations, map, then the files, in that order). */
export function multipartBody<V>(document: TypedDocumentNode<unknown, V>, variables: V, files: UploadFile[]): FormData {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query: print(document), variables }));
  form.append("map", JSON.stringify(Object.fromEntries(files.map((f, i) => [String(i), [`variables.${f.variable}`]]))));
  files.forEach((f, i) => {
    form.append(String(i), new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: f.contentType ?? "application/octet-stream" }), f.filename);
  });
  return form;
}

/** Sends a typed GraphQL document with files, as a browser client following the multipart spec does. */
export async function upload<T, V>(
  url: string,
  document: TypedDocumentNode<T, V>,
  variables: V,
  files: UploadFile[],
  options: RequestOptions & { preflight?: boolean } = {},
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      ...(options.preflight === false ? {} : { "apollo-require-preflight": "true" }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: multipartBody(document, variables, files),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

export function errorCode(response: GraphQLResponse<unknown>): string | undefined {
  return response.errors?.[0]?.extensions?.code;
}

/** Uploads one file as a new shelf and returns it, failing the test on any error. */
export async function uploadShelf(url: string, bytes: Uint8Array, filename: string, options: RequestOptions = {}) {
  const res = await upload(url, UploadShelfDocument, { input: { file: null } }, [{ variable: "input.file", bytes, filename }], options);
  if (res.errors || !res.data) throw new Error(`upload of ${filename} failed: ${JSON.stringify(res.errors)}`);
  return res.data.uploadShelf;
}

/** Uploads `count` copies of `bytes` as shelves, up to 20 files a request; returns their ids. */
export async function uploadMany(url: string, bytes: Uint8Array, count: number, options: RequestOptions = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < count; ) {
    const n = Math.min(20, count - done);
    const res = await upload(
      url,
      UploadShelvesDocument,
      { input: { files: Array(n).fill(null) } },
      Array.from({ length: n }, (_, i) => ({ variable: `input.files.${i}`, bytes, filename: `many-${done + i}.png` })),
      options,
    );
    if (res.errors || !res.data) throw new Error(`batch upload failed: ${JSON.stringify(res.errors)}`);
    ids.push(...res.data.uploadShelves.map((s) => s.id));
    done += n;
  }
  return ids;
}
