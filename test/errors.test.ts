import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GetShelfDocument, UploadShelfDocument } from "./generated/graphql.js";
import { errorCode, gql, upload } from "./helpers/graphql.js";
import { makeImage } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

async function rawQuery(url: string, query: string) {
  const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
  return { status: res.status, body: (await res.json()) as { errors?: Array<{ message: string; extensions?: Record<string, unknown> }>; data?: unknown } };
}

describe("errors in production", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", { NODE_ENV: "production" });
  });
  after(() => server.close());

  it("hides internal details and stack traces, keeping a code", async () => {
    const res = await upload(server.url, UploadShelfDocument, { input: { file: null } }, [
      { variable: "input.file", bytes: await makeImage(8, 8), filename: "x.jpg" },
    ]);
    const shelf = res.data!.uploadShelf;
    // Break an invariant behind the service's back: the shelf loses its original row.
    await server.app.db.prisma.mediaFile.deleteMany({ where: { shelfId: shelf.id } });
    const broken = await gql(server.url, GetShelfDocument, { id: shelf.id });
    assert.equal(errorCode(broken), "INTERNAL_SERVER_ERROR");
    assert.equal(broken.errors![0]!.message, "Internal server error");
    assert.equal(broken.errors![0]!.extensions?.stacktrace, undefined);
    assert.ok(server.logs.some((l) => l.includes("has no original")), "the details are logged");
  });

  it("gives client errors a code and no stack trace", async () => {
    const res = await gql(server.url, GetShelfDocument, { id: "00000000-0000-0000-0000-000000000000" });
    assert.equal(res.data!.shelf, null);
    const bad = await rawQuery(server.url, "{ shelf(id: 1) { id nope } }");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors![0]!.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
    assert.ok(bad.body.errors!.every((e) => e.extensions?.stacktrace === undefined));
    assert.doesNotMatch(JSON.stringify(bad.body), /[Dd]id you mean/);
    const typo = await rawQuery(server.url, "{ viewr { id } }");
    assert.equal(typo.status, 400);
    assert.doesNotMatch(JSON.stringify(typo.body), /[Dd]id you mean/);
    const introspection = await rawQuery(server.url, "{ __schema { types { name } } }");
    assert.equal(introspection.status, 400, "introspection is off in production");
  });

  it("refuses a query 20 levels deep, one with 1,000 aliases, and one too costly, before running them", async () => {
    let deep = "id";
    for (let i = 0; i < 10; i++) deep = `relations { shelf { ${deep} } }`;
    const tooDeep = await rawQuery(server.url, `{ viewer { library { shelfSet { edges { node { ${deep} } } } } } }`);
    assert.equal(tooDeep.status, 400);
    assert.equal(tooDeep.body.errors![0]!.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
    assert.equal(tooDeep.body.data, undefined);

    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: viewer { id }`).join(" ");
    server.queries.length = 0;
    const tooMany = await rawQuery(server.url, `{ ${aliases} }`);
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.errors![0]!.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
    assert.equal(server.queries.length, 0, "nothing ran");

    const wide = Array.from({ length: 25 }, (_, i) => `s${i}: shelfSet(first: 100) { edges { node { id title createdAt original { url size mimeType checksum width height } files { url size } } } }`).join(" ");
    const tooCostly = await rawQuery(server.url, `{ viewer { library { ${wide} } } }`);
    assert.equal(tooCostly.status, 400);
    assert.equal(tooCostly.body.errors![0]!.extensions?.code, "GRAPHQL_VALIDATION_FAILED");

    const fine = await rawQuery(server.url, "{ viewer { library { shelfSet(first: 50) { edges { node { id relations { shelf { id } } original { url } } } } } } }");
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
  });

  it("refuses batched HTTP requests", async () => {
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ query: "{ viewer { id } }" }, { query: "{ viewer { id } }" }]),
    });
    assert.equal(res.status, 400);
    await res.text();
  });
});

describe("introspection in production when configured", () => {
  it("answers introspection with GRAPHQL_INTROSPECTION=true, and development has it by default", async () => {
    const envs: Array<Record<string, string>> = [{ NODE_ENV: "production", GRAPHQL_INTROSPECTION: "true" }, { NODE_ENV: "development" }];
    for (const env of envs) {
      const server = await startTestServer("pglite", env);
      try {
        const res = await rawQuery(server.url, "{ __schema { queryType { name } } }");
        assert.equal(res.status, 200, JSON.stringify(env));
        assert.deepEqual(res.body.data, { __schema: { queryType: { name: "Query" } } });
      } finally {
        await server.close();
      }
    }
  });
});

describe("errors in development", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", { NODE_ENV: "development" });
  });
  after(() => server.close());

  it("includes stack traces to help debugging", async () => {
    const bad = await gql(server.url, GetShelfDocument, { id: "x" });
    assert.equal(bad.errors, undefined);
    const res = await rawQuery(server.url, "{ shelfSet }");
    assert.equal(res.status, 400);
    assert.ok(Array.isArray(res.body.errors![0]!.extensions?.stacktrace));
  });
});
