import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { DeleteShelfDocument, GetShelfDocument, OwnersLibraryDocument, WhoamiDocument } from "./generated/graphql.js";
import { errorCode, gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage } from "./helpers/media.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const ISSUER = "https://id.example.test/";
const AUDIENCE = "media-library";

describe("JWTs from a key set (RS256, ES256), issuer, audience and roles", () => {
  let jwks: http.Server;
  let server: TestServer;
  let es: { privateKey: CryptoKey; kid: string };
  let rs: { privateKey: CryptoKey; kid: string };
  let stranger: CryptoKey;

  before(async () => {
    const esPair = await generateKeyPair("ES256");
    const rsPair = await generateKeyPair("RS256");
    stranger = (await generateKeyPair("ES256")).privateKey;
    es = { privateKey: esPair.privateKey, kid: "es-1" };
    rs = { privateKey: rsPair.privateKey, kid: "rs-1" };
    const keys = [
      { ...(await exportJWK(esPair.publicKey)), kid: es.kid, alg: "ES256", use: "sig" },
      { ...(await exportJWK(rsPair.publicKey)), kid: rs.kid, alg: "RS256", use: "sig" },
    ];
    jwks = http.createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    const { port } = jwks.address() as AddressInfo;
    server = await startTestServer("pglite", {
      AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
      AUTH_ROLES_CLAIM: "realm_access.roles",
    });
  });
  after(async () => {
    await server.close();
    await new Promise((resolve) => jwks.close(resolve));
  });

  function token(sub: string, opts: { alg?: "ES256" | "RS256"; roles?: string[]; issuer?: string; audience?: string; key?: CryptoKey } = {}) {
    const alg = opts.alg ?? "ES256";
    const signer = alg === "ES256" ? es : rs;
    return new SignJWT({ realm_access: { roles: opts.roles ?? [] } })
      .setProtectedHeader({ alg, kid: signer.kid })
      .setSubject(sub)
      .setIssuer(opts.issuer ?? ISSUER)
      .setAudience(opts.audience ?? AUDIENCE)
      .setExpirationTime("10m")
      .sign(opts.key ?? signer.privateKey);
  }

  it("accepts ES256 and RS256 tokens whose keys the key set publishes", async () => {
    for (const alg of ["ES256", "RS256"] as const) {
      const res = await gql(server.url, WhoamiDocument, {}, { token: await token("alice", { alg }) });
      assert.deepEqual(res.data?.viewer, { id: "alice", admin: false }, alg);
    }
  });

  it("refuses a wrong issuer, a wrong audience and a key outside the set", async () => {
    const bad = [
      await token("alice", { issuer: "https://evil.example/" }),
      await token("alice", { audience: "another-service" }),
      await token("alice", { key: stranger }),
    ];
    for (const t of bad) {
      const res = await gql(server.url, WhoamiDocument, {}, { token: t });
      assert.equal(res.status, 401);
      assert.equal(errorCode(res), "UNAUTHENTICATED");
    }
  });

  it("lets the admin role see and manage every library, and nobody else", async () => {
    const bob = await token("bob");
    const alice = await token("alice");
    const admin = await token("root", { roles: ["editor", "admin"] });
    const shelf = await uploadShelf(server.url, await makeImage(8, 8), "bobs.jpg", { token: bob });

    assert.equal((await gql(server.url, WhoamiDocument, {}, { token: admin })).data!.viewer.admin, true);
    assert.equal((await gql(server.url, GetShelfDocument, { id: shelf.id }, { token: alice })).data!.shelf, null);
    assert.equal((await gql(server.url, GetShelfDocument, { id: shelf.id }, { token: admin })).data!.shelf!.id, shelf.id);

    const forbidden = await gql(server.url, OwnersLibraryDocument, { ownerId: "bob" }, { token: alice });
    assert.equal(errorCode(forbidden), "FORBIDDEN");
    const own = await gql(server.url, OwnersLibraryDocument, { ownerId: "alice" }, { token: alice });
    assert.equal(own.data!.library.shelfSet.totalCount, 0);
    const asAdmin = await gql(server.url, OwnersLibraryDocument, { ownerId: "bob" }, { token: admin });
    assert.deepEqual(asAdmin.data!.library.shelfSet.edges.map((e) => e.node.id), [shelf.id]);

    const del = await gql(server.url, DeleteShelfDocument, { id: shelf.id }, { token: admin });
    assert.equal(del.data!.deleteShelf.deleted, true);
    assert.equal((await gql(server.url, GetShelfDocument, { id: shelf.id }, { token: bob })).data!.shelf, null);
  });
});

describe("API keys", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("pglite", { AUTH_JWT_SECRET: "api-key-test-secret-0123456789abcdef" });
  });
  after(() => server.close());

  it("act as their owner, are stored hashed, record their last use and stop working when revoked", async () => {
    const { ApiKeyService } = await import("../src/auth/apikeys.js");
    const keys = new ApiKeyService(server.app.db.prisma);
    const { id, key } = await keys.create({ ownerId: "backend", name: "shop backend" });
    const stored = await server.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id } });
    const secret = key.slice(`mk_${id}_`.length);
    assert.equal(secret.length, 43);
    assert.ok(!JSON.stringify(stored).includes(secret), "only a hash of the secret is kept");
    assert.equal(stored.lastUsedAt, null);

    const headers = { authorization: `ApiKey ${key}` };
    const me = await gql(server.url, WhoamiDocument, {}, { headers });
    assert.deepEqual(me.data!.viewer, { id: "backend", admin: false });
    assert.ok((await server.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id } })).lastUsedAt);
    const shelf = await uploadShelf(server.url, await makeImage(8, 8), "by-key.jpg", { headers });
    assert.ok(shelf.id);

    const tampered = key.slice(0, -2) + (key.endsWith("A") ? "BB" : "AA");
    for (const bad of [tampered, "mk_0000000000000000_" + "x".repeat(43), "nonsense"]) {
      const res = await gql(server.url, WhoamiDocument, {}, { headers: { authorization: `ApiKey ${bad}` } });
      assert.equal(errorCode(res), "UNAUTHENTICATED", bad);
    }
    assert.equal(await keys.revoke(id), true);
    assert.equal(await keys.revoke(id), false);
    assert.equal(errorCode(await gql(server.url, WhoamiDocument, {}, { headers })), "UNAUTHENTICATED");

    const admin = await keys.create({ ownerId: "ops", name: "ops", admin: true });
    const asAdmin = await gql(server.url, GetShelfDocument, { id: shelf.id }, { headers: { authorization: `ApiKey ${admin.key}` } });
    assert.equal(asAdmin.data!.shelf!.id, shelf.id, "an admin key sees every library");
  });
});
