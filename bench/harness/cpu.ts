import fs from "node:fs";

/**
 * CPU time from /proc (user + system), per process or per thread. Unlike wall time it does not
 * grow when other processes compete for the cores.
 */

/** The kernel's USER_HZ, the unit of /proc's CPU times: 100 on Linux. */
const CLOCK_TICKS = 100;

/** User and system CPU time (ms) of a process, or with `tid` of one of its threads. */
export function readCpuTimes(pid: number, tid?: number): { userMs: number; systemMs: number } {
  const stat = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { userMs: (Number(fields[11]) * 1000) / CLOCK_TICKS, systemMs: (Number(fields[12]) * 1000) / CLOCK_TICKS };
}

export function readCpuMs(pid: number, tid?: number): number {
  const { userMs, systemMs } = readCpuTimes(pid, tid);
  return userMs + systemMs;
}

export type ThreadTimes = Map<number, { name: string; ms: number }>;

/** CPU time (ms) and name of each thread of `pid` (libvips workers, libuv's pool and V8's helpers are "node"...), by thread id. */
export function readThreadCpuMs(pid: number): ThreadTimes {
  const threads: ThreadTimes = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`).map(Number)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = tid === pid ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[\d#-]+$/, "");
      threads.set(tid, { name, ms: readCpuMs(pid, tid) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/**
 * CPU per item between two readings, summed by thread name; what the process spent beyond the
 * threads still there at the end (`totalMs`) is put under "exited".
 */
export function threadCpuSince(before: ThreadTimes, after: ThreadTimes, totalMs: number, items: number): Map<string, number> {
  const byName = new Map<string, number>();
  let counted = 0;
  for (const [tid, { name, ms }] of after) {
    // A thread id the first reading did not see is a thread started since.
    const spent = ms - (before.get(tid)?.ms ?? 0);
    counted += spent;
    const label = name === "main" ? "JavaScript" : name;
    byName.set(label, (byName.get(label) ?? 0) + spent);
  }
  byName.set("exited", totalMs - counted);
  const perItem = new Map<string, number>();
  for (const [name, ms] of byName) if (ms / items >= 0.05) perItem.set(name, ms / items);
  return perItem;
}

/** "JavaScript 12.3, vips 8.1, ...": per-thread figures, largest first. */
export const byThread = (threads: Map<string, number>) =>
  [...threads].sort((x, y) => y[1] - x[1]).map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(", ");
