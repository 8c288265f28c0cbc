/** A round that holds requests up this long is worth a line in the log. */
const SLOW_MS = 1000;

/**
 * The upkeep PostgreSQL's autovacuum daemon does, for the embedded database, which runs
 * PostgreSQL as a single backend with no daemon (and no activity statistics to go by). Without
 * it, every job (inserted, then deleted) and every version made (updated twice) leaves dead rows
 * behind: measured, 20,000 jobs made the job table's indexes 1.4 MB of mostly dead entries and a
 * job's claim and completion 50 % slower, growing without end.
 *
 * Every `intervalMs` it runs VACUUM over the database (about 25 ms at 100,000 shelves when little
 * changed, as it skips the pages that did not; half a second after 100,000 rows changed), then
 * ANALYZE for each table whose row count has moved by more than autovacuum's threshold for
 * analysis (50 rows and 10 %) since it was last analyzed, or that has rows and no statistics.
 * Autovacuum counts changed rows; the embedded database keeps no such counts, so a table whose
 * rows change without their number moving keeps its statistics. ANALYZE reads a sample of every
 * column (about half a second for a table of 300,000 rows), so it runs only when the planner's
 * picture is out of date. The database runs on this process's main thread: a round that takes
 * long holds every request up, and is logged.
 */
export class EmbeddedVacuum {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Row counts (pg_class.reltuples) when each table was last analyzed, by table. */
  private readonly analyzedAt = new Map<string, number>();

  constructor(
    private readonly exec: (sql: string) => Promise<Array<Record<string, unknown>>>,
    private readonly intervalMs: number,
    private readonly log: (message: string) => void = () => {},
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      const started = performance.now();
      this.run().then(
        () => {
          const ms = performance.now() - started;
          if (ms >= SLOW_MS) this.log(`Vacuuming the embedded database took ${ms.toFixed(0)} ms`);
        },
        (err: Error) => this.log(`Vacuuming the embedded database failed: ${err.message}`),
      );
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }

  /** One round of upkeep now (or the one under way). */
  run(): Promise<void> {
    this.running ??= this.upkeep().finally(() => (this.running = undefined));
    return this.running;
  }

  private async upkeep(): Promise<void> {
    await this.exec("VACUUM");
    // VACUUM has just brought reltuples up to date. A table with statistics from an earlier
    // run of the process starts from its count now; one without any is analyzed.
    const tables = (await this.exec(`
      SELECT c.relname AS "table", c.reltuples::float8 AS "rows",
        EXISTS (SELECT 1 FROM pg_statistic s WHERE s.starelid = c.oid) AS "analyzed"
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind = 'r'`)) as Array<{ table: string; rows: number; analyzed: boolean }>;
    for (const { table, rows, analyzed } of tables) {
      const before = this.analyzedAt.get(table) ?? (analyzed ? rows : undefined);
      const moved = before === undefined ? rows > 0 : Math.abs(rows - before) > 50 + 0.1 * before;
      if (moved) await this.exec(`ANALYZE "${table.replaceAll('"', '""')}"`);
      this.analyzedAt.set(table, moved || before === undefined ? rows : before);
    }
  }
}
