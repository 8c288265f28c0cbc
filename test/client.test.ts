import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import {
  createMediaClient,
  DeleteShelfDocument,
  LibraryPageDocument,
  MediaClientError,
  MediaKindsDocument,
  ShelfDetailDocument,
  ShelfVersionDocument,
  UpdateShelfDocument,
  type MediaClient,
  type UploadProgress,
} from "../client/src/index.js";
import { makeImage, sha256 } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const MANIFEST = fileURLToPath(new URL("../client/src/generated/persisted-documents.json", import.meta.url));

/** A fetch that records each request body it sends, so tests can see what went on the wire. */
function recordingFetch() {
  const bodies: unknown[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    if (typeof init?.body === "string") bodies.push(JSON.parse(init.body));
    return fetch(input, init);
  };
  return { bodies, fetch: fetchImpl };
}

/** A PNG of noise: incompressible, so its size is what it says and an upload takes many chunks. */
async function noisyPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: "#000", noise: { type: "gaussian", mean: 128, sigma: 60 } } }).png().toBuffer();
}

const file = (bytes: Uint8Array, name: string, type = "") => new File([bytes as Uint8Array<ArrayBuffer>], name, { type });

describe("client kit from Node", () => {
  let server: TestServer;
  let client: MediaClient;
  before(async () => {
    server = await startTestServer("pglite");
    client = createMediaClient({ url: `${server.url}/graphql` });
  });
  after(async () => {
    await client.dispose();
    await server.close();
  });

  it("uploads a file with monotonic progress ending at its size, and lists it", async () => {
    const bytes = await noisyPng(900, 900);
    const progress: UploadProgress[] = [];
    const shelf = await client.uploadShelf(file(bytes, "noise.png"), { title: "Noise" }, { onProgress: (p) => progress.push(p) });
    assert.equal(shelf.__typename, "ImageShelf");
    assert.equal(shelf.title, "Noise");
    assert.equal(shelf.original.size, bytes.length);
    assert.equal(shelf.original.checksum, sha256(bytes), "the stored checksum is the file's sha256");
    assert.equal(sha256(await server.readStored(shelf.original.name)), sha256(bytes));

    assert.ok(progress.length >= 3, `progress is reported while the file goes out (${progress.length} events)`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.loaded > progress[i - 1]!.loaded, "progress only rises");
    assert.ok(progress.every((p) => p.total === bytes.length));
    assert.deepEqual(progress.at(-1), { loaded: bytes.length, total: bytes.length });

    const page = await client.request(LibraryPageDocument, { first: 10 });
    const listed = page.viewer.library.shelfSet.edges.map((e) => e.node);
    assert.ok(listed.some((s) => s.id === shelf.id && s.original.checksum === sha256(bytes)));
    assert.equal(typeof listed[0]!.createdAt, "string", "DateTime arrives as RFC 3339 text");

    const detail = await client.request(ShelfDetailDocument, { id: shelf.id });
    assert.equal(detail.shelf?.id, shelf.id);
    const renamed = await client.request(UpdateShelfDocument, { id: shelf.id, input: { title: "Renamed" } });
    assert.equal(renamed.updateShelf.title, "Renamed");
  });

  it("surfaces a refused upload as a MediaClientError with its code", async () => {
    const refused = await client.uploadShelf(file(Buffer.from("#!/bin/sh\necho hi\n"), "script.png", "image/png")).then(
      () => assert.fail("a shell script named .png was accepted"),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof MediaClientError);
    assert.equal(refused.code, "UNSUPPORTED_MEDIA_TYPE");
    assert.equal(refused.status, 200);
    assert.doesNotMatch(refused.message, new RegExp(server.sandbox.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), "no server path in the message");

    const missing = await client.request(DeleteShelfDocument, { id: "00000000-0000-0000-0000-000000000000" }).catch((err: unknown) => err);
    assert.ok(missing instanceof MediaClientError);
    assert.equal(missing.code, "NOT_FOUND");
  });

  it("stops an upload when its signal aborts", async () => {
    const controller = new AbortController();
    const bytes = await noisyPng(900, 900);
    const pending = client.uploadShelf(file(bytes, "aborted.png"), {}, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.loaded > 0) controller.abort();
      },
    });
    await assert.rejects(pending, (err: Error) => err.name === "AbortError");
  });

  it("sends automatic persisted queries: the hash alone, the text only when the service asks", async () => {
    const recorder = recordingFetch();
    const persisted = createMediaClient({ url: `${server.url}/graphql`, fetch: recorder.fetch });
    // A document this server has not been sent yet.
    await persisted.request(MediaKindsDocument, {});
    assert.equal(recorder.bodies.length, 2, "unknown at first: hash, then hash with text");
    assert.equal((recorder.bodies[0] as { query?: string }).query, undefined);
    assert.equal(typeof (recorder.bodies[1] as { query?: string }).query, "string");
    await persisted.request(MediaKindsDocument, {});
    assert.equal(recorder.bodies.length, 3, "known now: the hash alone is enough");
    assert.equal((recorder.bodies[2] as { query?: string }).query, undefined);
  });
});

describe("automatic persisted queries over plain HTTP", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite");
  });
  after(() => server.close());

  it("answers an unknown hash with PERSISTED_QUERY_NOT_FOUND, keeps hash with text, then runs the hash alone", async () => {
    const query = "query Me { viewer { id } }";
    const persistedQuery = { version: 1, sha256Hash: createHash("sha256").update(query).digest("hex") };
    const post = async (body: object) => {
      const res = await fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return (await res.json()) as { data?: { viewer: { id: string } }; errors?: Array<{ extensions?: { code?: string } }> };
    };
    const unknown = await post({ extensions: { persistedQuery } });
    assert.equal(unknown.errors?.[0]?.extensions?.code, "PERSISTED_QUERY_NOT_FOUND");
    const registered = await post({ query, extensions: { persistedQuery } });
    assert.equal(registered.data?.viewer.id, "local");
    const byHash = await post({ extensions: { persistedQuery } });
    assert.equal(byHash.errors, undefined);
    assert.equal(byHash.data?.viewer.id, "local");
    const wrongHash = await post({ query: "{ viewer { admin } }", extensions: { persistedQuery } });
    assert.ok(wrongHash.errors?.length, "a hash that is not the text's is refused");
  });
});

describe("persisted-operations manifest, accepting only its operations", () => {
  let server: TestServer;
  const post = async (body: object) => {
    const res = await fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } };
  };
  before(async () => {
    server = await startTestServer("pglite", { PERSISTED_OPERATIONS: MANIFEST, PERSISTED_OPERATIONS_ONLY: "true" });
  });
  after(() => server.close());

  it("runs the kit's operations by hash on the first request, uploads included", async () => {
    const recorder = recordingFetch();
    const client = createMediaClient({ url: `${server.url}/graphql`, fetch: recorder.fetch });
    const bytes = await makeImage(40, 30, "png");
    const shelf = await client.uploadShelf(file(bytes, "tiny.png"));
    assert.equal(shelf.original.checksum, sha256(bytes));
    const page = await client.request(LibraryPageDocument, { first: 5 });
    assert.deepEqual(page.viewer.library.shelfSet.edges.map((e) => e.node.id), [shelf.id]);
    assert.equal(recorder.bodies.length, 1, "the manifest is preloaded: no PERSISTED_QUERY_NOT_FOUND round trip");
    assert.equal((recorder.bodies[0] as { query?: string }).query, undefined);
  });

  it("accepts the GraphQL-over-HTTP documentId form", async () => {
    const id = (ShelfVersionDocument as unknown as { __meta__: { hash: string } }).__meta__.hash;
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const res = await post({ documentId: id, variables: { id: "00000000-0000-0000-0000-000000000000", preset: "thumb" } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { data: { shelf: null } });
  });

  it("refuses any other operation, sent as text or registered by hash, with PERSISTED_QUERY_NOT_ALLOWED", async () => {
    const query = "{ viewer { id admin } }";
    const persistedQuery = { version: 1, sha256Hash: createHash("sha256").update(query).digest("hex") };
    for (const body of [{ query }, { query, extensions: { persistedQuery } }, { extensions: { persistedQuery } }]) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.errors?.[0]?.extensions?.code, "PERSISTED_QUERY_NOT_ALLOWED");
      assert.equal(res.body.data, undefined);
    }
    const unknownId = await post({ documentId: `sha256:${"0".repeat(64)}` });
    assert.equal(unknownId.status, 400);
    assert.equal(unknownId.body.errors?.[0]?.extensions?.code, "PERSISTED_QUERY_NOT_FOUND");
    // Through the client: its own documents pass, a document of its own making does not.
    const client = createMediaClient({ url: `${server.url}/graphql`, persistedQueries: false });
    await client.request(LibraryPageDocument, { first: 1 });
    const foreign = new String(query) as unknown as typeof LibraryPageDocument;
    await assert.rejects(client.request(foreign, { first: 1 }), (err: MediaClientError) => err.code === "PERSISTED_QUERY_NOT_ALLOWED" && err.status === 400);
  });

  it("refuses to start in only-mode without a manifest, or with a manifest that is not one", async () => {
    await assert.rejects(startTestServer("pglite", { PERSISTED_OPERATIONS_ONLY: "true" }), /needs a manifest/);
    await assert.rejects(startTestServer("pglite", { PERSISTED_OPERATIONS: path.join(server.sandbox, "missing.json") }), /not a readable JSON manifest/);
  });
});

describe("watchShelf over graphql-ws", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite");
  });
  after(() => server.close());

  it("receives a version's progress until READY", async () => {
    const client = createMediaClient({ url: `${server.url}/graphql`, wsRetryAttempts: 0 });
    try {
      const shelf = await client.uploadShelf(file(await makeImage(640, 480, "jpeg"), "watched.jpg"));
      const updates = client.watchShelf(shelf.id);
      const next = updates.next();
      // The subscription is live once a change reaches it: rename until one does, then ask for the version.
      let first: Awaited<typeof next> | undefined;
      for (let i = 0; i < 50 && !first; i++) {
        await client.request(UpdateShelfDocument, { id: shelf.id, input: { title: `watched ${i}` } });
        first = await Promise.race([next, new Promise<undefined>((r) => setTimeout(r, 100))]);
      }
      assert.ok(first && !first.done, "a change to the shelf reached the subscriber");
      assert.equal(first.value.shelfId, shelf.id);
      assert.equal(first.value.change, "UPDATED");

      await client.request(ShelfVersionDocument, { id: shelf.id, preset: "medium" });
      const seen: string[] = [];
      for await (const update of updates) {
        const version = update.shelf?.files.find((f) => f.preset === "medium");
        if (version) seen.push(version.status);
        if (version?.status === "READY") break;
      }
      assert.equal(seen.at(-1), "READY");
      assert.ok(!seen.includes("FAILED"));
    } finally {
      await client.dispose();
    }
  });
});
