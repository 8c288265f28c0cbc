import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { openEmbedded, type Embedded } from "../src/db/embedded.js";

/**
 * The embedded database has no autovacuum daemon; its own upkeep stands in. The tables here
 * churn as the job table does: rows inserted, then deleted.
 */
describe("embedded database upkeep", () => {
  let dir: string;
  let db: Embedded;
  const one = async <T>(sql: string) => (await db.query(sql, []))[0] as T;
  const size = async (table: string) => Number((await one<{ bytes: string }>(`SELECT pg_relation_size('${table}') AS bytes`)).bytes);
  const commonValues = async (table: string) =>
    (await one<{ values: string | null }>(`SELECT most_common_vals::text AS values FROM pg_stats WHERE tablename = '${table}' AND attname = 'v'`))?.values ?? null;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "vacuum-"));
    db = await openEmbedded(dir);
  });
  after(async () => {
    await db.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("gives back the space of deleted rows, so a churned table and its indexes stop growing", async () => {
    await db.query("CREATE TABLE churn (id uuid PRIMARY KEY, queue text, priority int)", []);
    await db.query("CREATE INDEX churn_queue ON churn (queue, priority DESC)", []);
    const churn = async () => {
      await db.query("INSERT INTO churn SELECT gen_random_uuid(), 'image', 0 FROM generate_series(1, 1000)", []);
      await db.query("DELETE FROM churn", []);
    };
    const indexes = async () => Number((await one<{ bytes: string }>("SELECT pg_indexes_size('churn') AS bytes")).bytes);
    // Left alone, every round adds its dead rows to the table and the indexes.
    for (let round = 0; round < 5; round++) await churn();
    const unkept = { table: await size("churn"), indexes: await indexes() };
    assert.ok(unkept.table > 250_000, `5,000 dead rows stay in the table: ${unkept.table} bytes`);

    await db.vacuum();
    assert.equal(await size("churn"), 0, "the emptied table is truncated");
    // Kept up, the indexes settle: freed pages are reused (once no snapshot can still see them).
    const keptIndexes: number[] = [];
    for (let round = 0; round < 10; round++) {
      await churn();
      await db.vacuum();
      assert.equal(await size("churn"), 0);
      keptIndexes.push(await indexes());
    }
    assert.equal(keptIndexes.at(-1), keptIndexes.at(4), `the indexes stop growing: ${keptIndexes.join(", ")} bytes; ${unkept.indexes} after 5 rounds left alone`);
  });

  it("analyzes a table that has none of the planner's statistics, and again only once its size has moved", async () => {
    await db.query("CREATE TABLE facts (id int PRIMARY KEY, v text)", []);
    await db.query("INSERT INTO facts SELECT g, 'old' FROM generate_series(1, 1000) g", []);
    assert.equal(await commonValues("facts"), null, "no statistics before the upkeep");

    await db.vacuum();
    assert.equal(await commonValues("facts"), "{old}");

    // 40 rows (4 %) is within the threshold: the statistics stay as they were.
    await db.query("INSERT INTO facts SELECT g, 'new' FROM generate_series(1001, 1040) g", []);
    await db.vacuum();
    assert.equal(await commonValues("facts"), "{old}");

    // 1,000 more rows double the table: it is analyzed again and the new value shows.
    await db.query("INSERT INTO facts SELECT g, 'new' FROM generate_series(1041, 2040) g", []);
    await db.vacuum();
    assert.equal(await commonValues("facts"), "{new,old}");
  });

  it("reopened, it trusts the statistics a table already has", async () => {
    await db.close();
    db = await openEmbedded(dir);
    await db.query("INSERT INTO facts SELECT g, 'newer' FROM generate_series(2041, 2100) g", []);
    await db.vacuum();
    assert.equal(await commonValues("facts"), "{new,old}", "60 rows on 2,040 is not enough to analyze again");
  });
});
