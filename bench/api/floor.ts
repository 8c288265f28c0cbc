import { PGlite } from "@electric-sql/pglite";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import pg from "pg";
import { UrlSigner } from "../../src/storage/signing.js";
import { onCleanup } from "../harness/lifecycle.js";

/**
 * The floor: the library page by hand, one statement through the service's own driver, shaped
 * into the very document the GraphQL answer is. Files of a shelf that is not PUBLIC get links
 * signed like the service's (HMAC-SHA256 over alias, name, expiry and download flag, with the key
 * the service keeps in DATA_DIR).
 */

export const OWNER = "local";
/** The default storage's URL prefix (MEDIA_URL's default); the floor builds the same URLs. */
const MEDIA_URL = "/media/";
/** Lifetime of a private shelf's signed links (the default storage's querystringExpire default). */
const SIGNED_EXPIRES_IN = 3600;

const FLOOR_SQL = `
SELECT s.id, s.title, s.visibility::text AS visibility, f.name, f.size, f."mimeType",
       COALESCE((SELECT json_agg(json_build_object('model', r.model, 'objectId', r."objectId") ORDER BY r.model, r."objectId")
                 FROM "ShelfRelation" r WHERE r."shelfId" = s.id), '[]'::json) AS relations
FROM "Shelf" s
JOIN "MediaFile" f ON f."shelfId" = s.id AND f.variant = 'original'
WHERE s."ownerId" = $1
ORDER BY s."createdAt" DESC, s.id DESC
LIMIT $2`;

interface FloorRow {
  id: string;
  title: string;
  visibility: string;
  name: string;
  size: string | number | bigint;
  mimeType: string;
  relations: Array<{ model: string; objectId: string }>;
}

export interface Floor {
  runSql: (sql: string, params: unknown[]) => Promise<FloorRow[]>;
  signer: UrlSigner;
  close(): Promise<void>;
}

function mediaUrl(floor: Floor, row: FloorRow, expires: number): string {
  const url = MEDIA_URL + row.name.split("/").map(encodeURIComponent).join("/");
  if (row.visibility === "PUBLIC") return url;
  const signature = floor.signer.sign("default", row.name, expires, false);
  return `${url}?expires=${expires}&signature=${signature}`;
}

/** The page of `first` shelves; `expiresAt` fixes a shelf's link expiry, to compare with an answer made a moment earlier. */
export async function floorDocument(floor: Floor, first: number, expiresAt?: (shelfId: string) => number): Promise<string> {
  const rows = await floor.runSql(FLOOR_SQL, [OWNER, first]);
  const expires = Math.floor(Date.now() / 1000) + SIGNED_EXPIRES_IN;
  const edges = rows.map((r) => ({
    node: {
      id: r.id,
      title: r.title,
      original: { url: mediaUrl(floor, r, expiresAt?.(r.id) ?? expires), size: Number(r.size), mimeType: r.mimeType },
      relations: r.relations,
    },
  }));
  return JSON.stringify({ data: { viewer: { library: { shelfSet: { edges } } } } });
}

/** The floor on the service's database: a `pg` Pool on PostgreSQL, PGlite opened on the same directory otherwise. */
export async function openFloor(databaseUrl: string | undefined, dataDir: string): Promise<Floor> {
  const signer = new UrlSigner((await fs.readFile(path.join(dataDir, "signing.key"), "utf8")).trim());
  if (databaseUrl) {
    const pool = new pg.Pool({ connectionString: databaseUrl });
    // An idle client whose connection drops must not take the process down. (pool.end() lets
    // go of its clients before their connections have closed; the DROP DATABASE ... WITH
    // (FORCE) that follows can still reach one of them, which is expected then.)
    let ending = false;
    pool.on("error", (err) => {
      if (!ending) console.error(`floor pool: ${err.message}`);
    });
    const close = onCleanup("pg pool", () => {
      ending = true;
      return pool.end();
    });
    // Prepared once per connection, as the service prepares its list statement: the floor gets
    // every advantage the service takes.
    const runSql = async (sql: string, params: unknown[]) => (await pool.query<FloorRow>({ name: "floor_page", text: sql, values: params })).rows;
    return { runSql, signer, close };
  }
  const pglite = await PGlite.create(path.join(dataDir, "db"));
  const close = onCleanup("PGlite", () => pglite.close());
  const runSql = async (sql: string, params: unknown[]) => (await pglite.query<FloorRow>(sql, params)).rows;
  return { runSql, signer, close };
}

type PageDocument = { data: { viewer: { library: { shelfSet: { edges: Array<{ node: { id: string; original: { url: string } } }> } } } } };

/** Each shelf's link expiry in a GraphQL answer (absent for unsigned links). */
export function expiriesOf(document: string): Map<string, number> {
  const expiries = new Map<string, number>();
  for (const { node } of (JSON.parse(document) as PageDocument).data.viewer.library.shelfSet.edges) {
    const match = /[?&]expires=(\d+)/.exec(node.original.url);
    if (match) expiries.set(node.id, Number(match[1]));
  }
  return expiries;
}

/** A bare node:http server answering every request with the floor's page of `first` (the HTTP floor). */
export async function startFloorServer(floor: Floor, first: number): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      floorDocument(floor, first).then(
        (doc) => {
          res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(doc) });
          res.end(doc);
        },
        (err: Error) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(err.message);
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  const close = onCleanup("floor server", () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    return closed;
  });
  return { url: `http://127.0.0.1:${port}/`, close };
}
