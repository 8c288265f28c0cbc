import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT, sleep } from "./settings.js";

/** Child processes of a benchmark: started, read line by line, stopped, and never left behind. */

export type LineListener = (line: string) => void;

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
  /** Calls `listener` with every later whole line (GC trace lines left out); returns its removal. */
  onLine(listener: LineListener): () => void;
}

/** A line of V8's --trace-gc output: `[pid:0x…]   1234 ms: Scavenge …` or `… Mark-Compact …`. */
const GC_TRACE_LINE = /^\[\d+:0x[0-9a-f]+\]\s+[\d.]+ ms: (Mark-Compact|Scavenge|Minor Mark-Compact|Mark-Sweep)\b/;
const KEPT_LINES = 60;

const liveChildren = new Set<ChildProcess>();
/** Directories removed by cleanupSync. */
const tempDirs: string[] = [];

/** A new directory under the system's temporary directory, removed on every exit path. */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Runs Node with `args` in `cwd` (the repository by default), keeping its last lines and counting its GCs. */
export function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): Child {
  const proc = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  if (proc.pid === undefined) throw new Error(`Could not start ${name}`);
  liveChildren.add(proc);
  const output: string[] = [];
  const gcs = { major: 0, minor: 0 };
  const listeners = new Set<LineListener>();
  let done = false;
  const keep = (line: string) => {
    if (line.trim() === "") return;
    const gc = GC_TRACE_LINE.exec(line);
    if (gc) {
      if (gc[1] === "Mark-Compact") gcs.major++;
      else gcs.minor++;
      return;
    }
    output.push(line);
    if (output.length > KEPT_LINES) output.shift();
    for (const listener of listeners) listener(line);
  };
  for (const stream of [proc.stdout, proc.stderr]) {
    // A chunk can end mid-line: the rest waits for the next chunk.
    let pending = "";
    stream?.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString("utf8")).split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(keep);
    });
    stream?.once("end", () => keep(pending));
  }
  const exited = new Promise<number | null>((resolve) => {
    proc.once("exit", (code, signal) => {
      done = true;
      liveChildren.delete(proc);
      resolve(code ?? (signal ? -1 : null));
    });
  });
  const onLine = (listener: LineListener) => {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  };
  return { name, proc, pid: proc.pid, output, gcs, exited, hasExited: () => done, onLine };
}

/** A TypeScript file of the benchmarks run as a child (`node --import tsx <file>`). */
export function startScript(name: string, file: string, env: NodeJS.ProcessEnv): Child {
  return startChild(name, ["--import", "tsx", file], env);
}

export function failureReport(child: Child): string {
  return `--- last output of ${child.name} (pid ${child.pid}) ---\n${child.output.join("\n") || "(none)"}`;
}

/** Waits for a line matching `pattern`, already printed or to come; fails on exit or after `timeoutMs`. */
export function waitForLine(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const found = child.output.map((line) => pattern.exec(line)).find(Boolean);
    if (found) return resolve(found);
    const timer = setTimeout(() => finish(new Error(`${child.name} printed no ${pattern} within ${timeoutMs / 1000} s\n${failureReport(child)}`)), timeoutMs);
    const off = child.onLine((line) => {
      const match = pattern.exec(line);
      if (match) finish(undefined, match);
    });
    // "exit" can come before the last output: give the pipes a moment to drain first.
    void child.exited
      .then(() => sleep(300))
      .then(() => finish(new Error(`${child.name} exited before printing ${pattern}\n${failureReport(child)}`)));
    let done = false;
    function finish(err?: Error, match?: RegExpExecArray) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      if (err) reject(err);
      else resolve(match!);
    }
  });
}

/** Waits for the child to exit within `timeoutMs`; stops it and fails if it does not. */
export async function exitCodeWithin(child: Child, timeoutMs: number): Promise<number | null> {
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), timeoutMs).unref());
  const code = await Promise.race([child.exited, timeout]);
  if (code !== "timeout") return code;
  await stopChild(child, 500);
  throw new Error(`${child.name} took over ${timeoutMs / 1000} s\n${failureReport(child)}`);
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

export function killChildren(): void {
  for (const proc of liveChildren) {
    try {
      proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}

/** Kills every child still running and removes the temporary directories; safe in an exit handler. */
export function cleanupSync(): void {
  killChildren();
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs a program (not Node) with stdout drained (ffmpeg's -progress goes there) and the stderr tail kept. */
export function runProgram(command: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    liveChildren.add(proc);
    let stderr = "";
    proc.stdout.resume();
    proc.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-8192);
    });
    proc.once("error", (err) => {
      liveChildren.delete(proc);
      reject(err);
    });
    proc.once("close", (code) => {
      liveChildren.delete(proc);
      resolve({ code, stderr });
    });
  });
}
