import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { DeleteShelfDocument, UpdateShelfDocument, WatchLibraryDocument, WatchShelfDocument } from "./generated/graphql.js";
import { gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp4 } from "./helpers/media.js";
import { DEFAULT_VERSIONS, adminQuery, databaseFlavours, startTestServer, type TestServer } from "./helpers/server.js";
import { connect, eventually, watch, type Connection } from "./helpers/subscriptions.js";

const SECRET = "subscriptions-test-secret-0123456789abcdef";

function token(sub: string, expiresIn = "10m"): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime(expiresIn).sign(new TextEncoder().encode(SECRET));
}

const bearer = async (sub: string, expiresIn?: string) => ({ Authorization: `Bearer ${await token(sub, expiresIn)}` });

/** Lets notices that are on their way arrive, so "no events" means none were sent. */
const settle = (ms = 500) => new Promise((r) => setTimeout(r, ms));

describe("subscriptions on the embedded database", () => {
  let server: TestServer;
  const open: Connection[] = [];
  const connectAs = async (sub: string, expiresIn?: string) => {
    const c = connect(server.url, await bearer(sub, expiresIn));
    open.push(c);
    await c.acknowledged;
    return c;
  };

  before(async () => {
    server = await startTestServer("pglite", { AUTH_JWT_SECRET: SECRET, SUBSCRIPTIONS_PER_CONNECTION: "3", WS_CONNECTIONS_PER_MINUTE: "5000", CORS_ORIGINS: "https://app.example.com" });
  });
  after(async () => {
    await Promise.all(open.map((c) => c.dispose()));
    await server.close();
  });

  test("libraryUpdated sees shelves created, changed and deleted; shelfUpdated ends with DELETED and a null shelf", async () => {
    const alice = await connectAs("alice");
    const library = watch(alice, WatchLibraryDocument, {});
    await eventually("the library listener", () => (server.app.services.events.listenerCount() > 0 ? true : undefined));
    const auth = { token: await token("alice") };
    const shelf = await uploadShelf(server.url, await makeImage(64, 48, "png"), "live.png", auth);
    const created = await library.until((r) => r.data?.libraryUpdated.change === "CREATED");
    assert.deepEqual(created.data!.libraryUpdated, { change: "CREATED", shelfId: shelf.id, shelf: { id: shelf.id, title: "live" } });
    const changedAt = Date.parse(created.extensions?.changedAt ?? "");
    assert.ok(Math.abs(Date.now() - changedAt) < 10_000, `the event says when the change was written: ${created.extensions?.changedAt}`);

    const one = watch(alice, WatchShelfDocument, { id: shelf.id });
    await eventually("the shelf listener", () => (server.app.services.events.listenerCount() > 1 ? true : undefined));
    const renamed = await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { title: "renamed" } }, auth);
    assert.equal(renamed.errors, undefined);
    const updated = await one.until((r) => r.data?.shelfUpdated.change === "UPDATED");
    // Read afresh when sent: the new title, the files as they are.
    assert.equal(updated.data!.shelfUpdated.shelf?.title, "renamed");
    assert.deepEqual(updated.data!.shelfUpdated.shelf?.files.map((f) => [f.role, f.status]), [["ORIGINAL", "READY"]]);
    assert.equal((await library.until((r) => r.data?.libraryUpdated.change === "UPDATED")).data!.libraryUpdated.shelf?.title, "renamed");

    await gql(server.url, DeleteShelfDocument, { id: shelf.id }, auth);
    const deleted = await one.until((r) => r.data?.shelfUpdated.change === "DELETED");
    assert.deepEqual(deleted.data!.shelfUpdated, { change: "DELETED", shelfId: shelf.id, shelf: null });
    assert.equal(await one.done, undefined, "the shelf's subscription completes once it is deleted");
    const gone = await library.until((r) => r.data?.libraryUpdated.change === "DELETED");
    assert.deepEqual(gone.data!.libraryUpdated, { change: "DELETED", shelfId: shelf.id, shelf: null });
    assert.deepEqual(
      library.results.map((r) => r.data?.libraryUpdated.change),
      ["CREATED", "UPDATED", "DELETED"],
      "one event per change: the files written with the shelf add none",
    );
    library.stop();
    await eventually("listeners gone", () => (server.app.services.events.listenerCount() === 0 ? true : undefined));
  });

  test("rapid changes to one shelf are coalesced to a few a second, and the last one always arrives", async () => {
    const auth = { token: await token("alice") };
    const shelf = await uploadShelf(server.url, await makeImage(32, 32, "png"), "busy.png", auth);
    const alice = await connectAs("alice");
    const one = watch(alice, WatchShelfDocument, { id: shelf.id });
    await eventually("the shelf listener", () => (server.app.services.events.listenerCount() > 0 ? true : undefined));
    // What the bus hands out, before a subscriber's own queue folds what it has not yet sent.
    const delivered: number[] = [];
    const stop = await server.app.services.events.watchShelf(shelf.id, () => delivered.push(Date.now()));
    const started = Date.now();
    const steps = 40;
    for (let i = 1; i <= steps; i++) {
      await server.app.db.prisma.mediaFile.updateMany({ where: { shelfId: shelf.id }, data: { progress: i / steps } });
    }
    const writing = Date.now() - started;
    const last = await one.until((r) => r.data?.shelfUpdated.shelf?.files[0]?.progress === 1);
    await settle(600);
    stop();
    const allowed = Math.ceil((delivered.at(-1)! - started) / 250) + 1;
    assert.ok(delivered.length <= allowed, `${delivered.length} events for ${steps} writes in ${writing} ms; at most ${allowed}`);
    assert.ok(delivered.length < steps / 2, `coalesced: ${delivered.length} events for ${steps} writes`);
    for (let i = 1; i < delivered.length; i++) assert.ok(delivered[i]! - delivered[i - 1]! >= 240, `events ${delivered[i]! - delivered[i - 1]!} ms apart`);
    assert.equal(one.results.at(-1), last, "the final state is the last event");
    one.stop();
  });

  test("another owner's shelf is NOT_FOUND, and other owners' changes are not delivered", async () => {
    const auth = { token: await token("alice") };
    const shelf = await uploadShelf(server.url, await makeImage(32, 32, "png"), "private.png", auth);
    const mallory = await connectAs("mallory");
    const prying = watch(mallory, WatchShelfDocument, { id: shelf.id });
    const library = watch(mallory, WatchLibraryDocument, {});
    const refused = await prying.until((r) => Boolean(r.errors));
    assert.equal(refused.errors![0]!.extensions?.code, "NOT_FOUND");
    assert.doesNotMatch(refused.errors![0]!.message, /alice/);
    await prying.done;
    // A malformed id is NOT_FOUND too, not an internal error.
    const malformed = watch(mallory, WatchShelfDocument, { id: "not-a-uuid" });
    assert.equal((await malformed.until((r) => Boolean(r.errors))).errors![0]!.extensions?.code, "NOT_FOUND");

    await gql(server.url, UpdateShelfDocument, { id: shelf.id, input: { title: "still private" } }, auth);
    await uploadShelf(server.url, await makeImage(16, 16, "png"), "another.png", auth);
    await settle();
    assert.deepEqual(library.results, [], "mallory hears nothing of alice's library");
    assert.equal(prying.results.filter((r) => r.data).length, 0);
    library.stop();
  });

  test("credentials: none or a bad token close the connection; the token's expiry closes it too", async () => {
    const anonymous = connect(server.url, {});
    open.push(anonymous);
    const refused = await anonymous.closed;
    assert.equal(refused.code, 4403);
    assert.match(refused.reason, /Bearer token is required/);

    const forged = connect(server.url, { Authorization: "Bearer not.a.token" });
    open.push(forged);
    assert.equal((await forged.closed).code, 4403);

    // The GraphiQL shape: the headers editor's JSON, key in any case.
    const nested = connect(server.url, { headers: { authorization: `Bearer ${await token("alice")}` } });
    open.push(nested);
    await nested.acknowledged;

    const shortLived = await connectAs("alice", "2s");
    const started = Date.now();
    const closed = await shortLived.closed;
    assert.equal(closed.code, 4403);
    assert.match(closed.reason, /expired/);
    assert.ok(Date.now() - started < 4000, "closed at the expiry, not at some later check");
  });

  test("limits: subscriptions per connection; depth limit; only subscriptions over the socket", async () => {
    const alice = await connectAs("alice");
    const held = [watch(alice, WatchLibraryDocument, {}), watch(alice, WatchLibraryDocument, {}), watch(alice, WatchLibraryDocument, {})];
    const fourth = watch(alice, WatchLibraryDocument, {});
    const errors = await fourth.done;
    assert.equal(errors?.[0]?.extensions?.code, "LIMIT_EXCEEDED");
    held[0]!.stop();
    await eventually("the first one to end", () => (server.app.services.events.listenerCount() === 2 ? true : undefined));
    const again = watch(alice, WatchLibraryDocument, {});
    await eventually("a fifth after one ended", () => (server.app.services.events.listenerCount() === 3 ? true : undefined));
    for (const w of [...held, again]) w.stop();

    const deep = `subscription { libraryUpdated { shelf { ... on VideoShelf { thumbnails { thumbnailOf { thumbnails { thumbnailOf { thumbnails { thumbnailOf { thumbnails { thumbnailOf { thumbnails { thumbnailOf { thumbnails { id } } } } } } } } } } } } } } }`;
    const tooDeep = await new Promise<unknown>((resolve) => alice.client.subscribe({ query: deep }, { next: () => {}, error: resolve, complete: () => resolve(undefined) }));
    assert.equal((tooDeep as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
    const query = await new Promise<unknown>((resolve) => alice.client.subscribe({ query: "{ viewer { id } }" }, { next: () => {}, error: resolve, complete: () => resolve(undefined) }));
    assert.equal((query as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code, "BAD_REQUEST");
  });

  test("browsers only from allowed origins", async () => {
    const status = (origin: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${server.url.replace("http", "ws")}/graphql`, "graphql-transport-ws", { headers: { origin } });
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("error", () => {});
      });
    assert.equal(await status("https://evil.example.net"), 403);
    assert.equal(await status("https://app.example.com"), 101);
    assert.equal(await status(server.url), 101, "the service's own pages");
  });

  test("1,000 connect/disconnect cycles, half of them dropped, leave no listeners behind", async () => {
    const events = server.app.services.events;
    const auth = await bearer("cycler");
    // Connections of the tests before stay open until the suite ends.
    const openBefore = server.app.subscriptions.connections();
    assert.equal(events.listenerCount(), 0);
    let peak = 0;
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 50 }, () => connect(server.url, auth));
      await Promise.all(batch.map((c) => c.acknowledged));
      for (const c of batch) {
        watch(c, WatchLibraryDocument, {});
        watch(c, WatchShelfDocument, { id: "00000000-0000-4000-8000-000000000000" });
      }
      // Each connection holds its library listener (the shelf one is refused: no such shelf).
      peak = Math.max(peak, await eventually("listeners registered", () => (events.listenerCount() >= 50 ? events.listenerCount() : undefined)));
      await Promise.all(batch.map((c, i) => (i % 2 ? c.dispose() : (c.drop(), Promise.resolve()))));
      await eventually("listeners released", () => (events.listenerCount() === 0 ? true : undefined));
    }
    assert.equal(peak, 50);
    await eventually("sockets closed", () => (server.app.subscriptions.connections() <= openBefore ? true : undefined));
    assert.equal(events.listenerCount(), 0);
  });
});

describe("connection rate and keep-alive", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", { WS_CONNECTIONS_PER_MINUTE: "4", WS_KEEPALIVE_MS: "1000" });
  });
  after(() => server.close());
  const open = (options: WebSocket.ClientOptions = {}) => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/graphql`, "graphql-transport-ws", options);
    ws.on("error", () => {});
    return ws;
  };

  test("a client that stops answering pings is dropped", async () => {
    // ws answers pings by itself unless told not to: this one is a peer that has gone silent.
    const silent = open({ autoPong: false });
    await new Promise((r) => silent.once("open", r));
    let pings = 0;
    silent.on("ping", () => pings++);
    const started = Date.now();
    const code = await new Promise<number>((r) => silent.once("close", (c) => r(c)));
    assert.ok(pings >= 1, "the server pinged");
    assert.equal(code, 1006, "terminated, not closed politely");
    assert.ok(Date.now() - started < 5000, `dropped after ${Date.now() - started} ms`);
  });

  test("an address opening more connections a minute than allowed is refused with 429", async () => {
    const statuses: number[] = [];
    // One was opened by the test before.
    for (let i = 0; i < 4; i++) {
      statuses.push(
        await new Promise<number>((resolve) => {
          const ws = open();
          ws.on("open", () => {
            ws.close();
            resolve(101);
          });
          ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        }),
      );
    }
    assert.deepEqual(statuses, [101, 101, 101, 429]);
  });
});

describe("subscriptions across processes on PostgreSQL", () => {
  test("a transcode run by a separate worker process reaches the subscriber: PENDING, PROCESSING with rising progress, READY", async (t) => {
    if (!(await databaseFlavours()).includes("postgresql")) return t.skip("needs PostgreSQL");
    // The service makes nothing itself: every version and poster frame is the worker's.
    const service = await startTestServer("postgresql", { ...DEFAULT_VERSIONS, JOBS_IMAGE_CONCURRENCY: "0", JOBS_AV_CONCURRENCY: "0", AUTH_JWT_SECRET: SECRET });
    const connections: Connection[] = [];
    let worker: ReturnType<typeof spawn> | undefined;
    let output = "";
    try {
      const alice = connect(service.url, await bearer("alice"));
      const mallory = connect(service.url, await bearer("mallory"));
      connections.push(alice, mallory);
      await Promise.all([alice.acknowledged, mallory.acknowledged]);
      const library = watch(alice, WatchLibraryDocument, {});
      const others = watch(mallory, WatchLibraryDocument, {});
      await eventually("library listeners", () => (service.app.services.events.listenerCount() === 2 ? true : undefined));

      const auth = { token: await token("alice") };
      const video = await uploadShelf(service.url, await makeMp4(8, "640x480"), "clip.mp4", auth);
      await library.until((r) => r.data?.libraryUpdated.change === "CREATED" && r.data.libraryUpdated.shelfId === video.id);
      const shelf = watch(alice, WatchShelfDocument, { id: video.id });
      await eventually("the shelf listener", () => (service.app.services.events.listenerCount() === 3 ? true : undefined));
      await gql(service.url, UpdateShelfDocument, { id: video.id, input: { title: "queued" } }, auth);
      const mp4 = (r: (typeof shelf.results)[number]) => r.data?.shelfUpdated.shelf?.files.find((f) => f.preset === "mp4-720p");
      await shelf.until((r) => mp4(r)?.status === "PENDING");

      worker = spawn(process.execPath, ["--import", "tsx", "src/worker.ts"], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: {
          ...process.env,
          ...DEFAULT_VERSIONS,
          NODE_ENV: "test",
          DATA_DIR: path.join(service.sandbox, "worker"),
          DATABASE_URL: service.databaseUrl!,
          MEDIA_ROOT: service.mediaRoot,
          JOBS_POLL_MS: "200",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      worker.stdout!.on("data", (d) => (output += d));
      worker.stderr!.on("data", (d) => (output += d));

      await shelf.until((r) => mp4(r)?.status === "READY", 120_000);
      const seen = shelf.results.map(mp4).filter((f) => f !== undefined);
      const statuses = seen.map((f) => f.status).filter((s, i, all) => s !== all[i - 1]);
      assert.deepEqual(statuses, ["PENDING", "PROCESSING", "READY"], JSON.stringify(seen));
      const progress = seen.filter((f) => f.status === "PROCESSING").map((f) => f.progress ?? 0);
      assert.ok(progress.some((p) => p > 0 && p < 1), `progress between 0 and 1 was seen: ${progress}`);
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b), "progress only rises");
      assert.equal(seen.at(-1)!.progress, 1);

      // Poster frames are changes of their video: its shelf hears them, the library lists no new shelves.
      const posters = (r: (typeof shelf.results)[number]) => {
        const s = r.data?.shelfUpdated.shelf;
        return s && "thumbnails" in s ? s.thumbnails.length : 0;
      };
      await shelf.until((r) => posters(r) === 3, 60_000);
      assert.deepEqual([...new Set(library.results.map((r) => r.data?.libraryUpdated.shelfId))], [video.id]);
      assert.ok(library.results.length < shelf.results.length + 2, "the library gets no more than the shelf's own events");
      assert.deepEqual(others.results, [], "another owner hears nothing");

      // The listening connection dropped (a restarted database, a failover) is opened again.
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = '${new URL(service.databaseUrl!).pathname.slice(1)}'`);
      await eventually(
        "the listener back",
        async () => {
          await gql(service.url, UpdateShelfDocument, { id: video.id, input: { title: `again ${Date.now()}` } }, auth);
          return library.results.some((r) => r.data?.libraryUpdated.shelf?.title?.startsWith("again")) ? true : undefined;
        },
        15_000,
      );
      assert.match(service.logs.join("\n"), /notification listener lost its connection/);

      // Deleted with its poster frames: one DELETED, and nothing after it about the video.
      const before = library.results.length;
      await gql(service.url, DeleteShelfDocument, { id: video.id }, auth);
      assert.deepEqual((await shelf.until((r) => r.data?.shelfUpdated.change === "DELETED")).data!.shelfUpdated, { change: "DELETED", shelfId: video.id, shelf: null });
      assert.equal(await shelf.done, undefined);
      await library.until((r) => r.data?.libraryUpdated.change === "DELETED");
      await settle();
      assert.deepEqual(library.results.slice(before).map((r) => [r.data?.libraryUpdated.change, r.data?.libraryUpdated.shelfId]), [["DELETED", video.id]]);
    } catch (err) {
      console.error(output);
      throw err;
    } finally {
      await Promise.all(connections.map((c) => c.dispose()));
      if (worker && worker.exitCode === null) {
        worker.kill("SIGTERM");
        await new Promise((r) => worker!.once("exit", r));
      }
      await service.close();
    }
  });
});
