import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";

/** What the benchmarks share: settings from the environment, child processes, and cleanup. */

export function positiveInt(raw: string | undefined, fallback: number): number {
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`Expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Last lines of its stdout and stderr, for results and error reports (GC trace lines left out). */
  output: string[];
  /** Garbage collections reported so far by --trace-gc (0 when the flag is not given). */
  gcs: { major: number; minor: number };
  exited: Promise<number | null>;
  hasExited(): boolean;
}

/** A line of V8's --trace-gc output: `[pid:0x…]   1234 ms: Scavenge …` or `… Mark-Compact …`. */
const GC_TRACE_LINE = /^\[\d+:0x[0-9a-f]+\]\s+[\d.]+ ms: (Mark-Compact|Scavenge|Minor Mark-Compact|Mark-Sweep)\b/;

const liveChildren = new Set<ChildProcess>();
/** Directories removed by cleanupSync. */
export const tempDirs: string[] = [];

/** Runs Node with `args` in `cwd`, keeping its last output lines and counting its GCs. */
export function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Child {
  const proc = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  if (proc.pid === undefined) throw new Error(`Could not start ${name}`);
  liveChildren.add(proc);
  const output: string[] = [];
  const gcs = { major: 0, minor: 0 };
  let done = false;
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      const gc = GC_TRACE_LINE.exec(line);
      if (gc) {
        if (gc[1] === "Mark-Compact") gcs.major++;
        else gcs.minor++;
        continue;
      }
      output.push(line);
      if (output.length > 60) output.shift();
    }
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    proc.once("exit", (code, signal) => {
      done = true;
      liveChildren.delete(proc);
      resolve(code ?? (signal ? -1 : null));
    });
  });
  return { name, proc, pid: proc.pid, output, gcs, exited, hasExited: () => done };
}

/** SIGTERM, then SIGKILL if it has not gone after `graceMs`. */
export async function stopChild(child: Child, graceMs = 1000): Promise<void> {
  if (child.hasExited()) return;
  child.proc.kill("SIGTERM");
  const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), graceMs).unref());
  if ((await Promise.race([child.exited, timer])) === "timeout" && !child.hasExited()) {
    child.proc.kill("SIGKILL");
    await child.exited;
  }
}

/** Kills every child still running and removes the temporary directories; safe in an exit handler. */
export function cleanupSync(): void {
  for (const proc of liveChildren) {
    try {
      proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Memory of a process
// ---------------------------------------------------------------------------------------------

export interface Mem {
  rssKiB: number;
  hwmKiB: number;
}

export function readMem(pid: number): Mem {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    if (!m?.[1]) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(m[1]);
  };
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/**
 * CPU time a process (or, with `tid`, one of its threads) has used, in ms: user + system from
 * /proc. Unlike wall time it does not grow when other processes compete for the cores.
 */
export function readCpuMs(pid: number, tid?: number): number {
  const stat = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** CPU time (ms) and name of each thread of `pid` (libvips workers, libuv's pool and V8's helpers are "node"...), by thread id. */
export function readThreadCpuMs(pid: number): Map<number, { name: string; ms: number }> {
  const threads = new Map<number, { name: string; ms: number }>();
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

/** The kernel's USER_HZ, the unit of /proc's CPU times: 100 on Linux. */
const CLOCK_TICKS = 100;

export interface MemWindow {
  /** RSS when the window opened. */
  idleKiB: number;
  /** Peak RSS in the window: VmHWM after a verified reset, else the polled maximum. */
  peakKiB: number;
  polledPeakKiB: number;
  hwmReset: boolean;
  resetNote: string;
}

/** Resets VmHWM (clear_refs 5, checked), then samples VmRSS every `pollMs` until `finish()`. */
export function watchMemory(pid: number, pollMs = 50): { finish(): MemWindow } {
  const before = readMem(pid);
  let hwmReset = false;
  let resetNote: string;
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
    const after = readMem(pid);
    // After a reset VmHWM equals the current RSS (give or take what the process allocated meanwhile).
    hwmReset = after.hwmKiB - after.rssKiB <= 2048;
    resetNote = `VmHWM ${mib(before.hwmKiB)} -> ${mib(after.hwmKiB)} (RSS ${mib(after.rssKiB)})`;
  } catch (err) {
    resetNote = `clear_refs failed: ${(err as Error).message}`;
  }
  const idleKiB = readMem(pid).rssKiB;
  let polledPeakKiB = idleKiB;
  const sample = () => {
    try {
      polledPeakKiB = Math.max(polledPeakKiB, readMem(pid).rssKiB);
    } catch {
      // the process is gone; the measurement that needed it fails and says so
    }
  };
  const timer = setInterval(sample, pollMs);
  return {
    finish() {
      clearInterval(timer);
      sample();
      const hwmKiB = readMem(pid).hwmKiB;
      return { idleKiB, peakKiB: hwmReset ? Math.max(hwmKiB, polledPeakKiB) : polledPeakKiB, polledPeakKiB, hwmReset, resetNote };
    },
  };
}

export const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
