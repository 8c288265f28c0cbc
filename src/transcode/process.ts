import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

export interface RunOptions {
  timeoutMs: number;
  /** Bytes of stdout kept; the rest is read and dropped so the child never blocks on a full pipe. */
  maxStdout?: number;
  /** Bytes of stderr kept (the tail, where errors are). */
  maxStderr?: number;
  /** Sees every chunk of stdout as it arrives (progress reports), whether or not it is kept. */
  onStdout?: (chunk: Buffer) => void;
  /** Kills the process when it aborts (the result then has `aborted`). */
  abort?: AbortSignal;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
}

/**
 * util-linux's setpriv, where there is one: started through it, a child gets SIGKILL when the
 * service dies, however it dies (prctl PR_SET_PDEATHSIG). Without it a service killed with
 * SIGKILL would leave its ffmpeg running for up to the transcode timeout. The signal follows the
 * thread that spawned the child: runs start from the main thread, which lives as long as the process.
 */
const SETPRIV = process.platform === "linux" ? ["/usr/bin/setpriv", "/bin/setpriv"].find(isExecutable) : undefined;

/**
 * Runs a program with an argument array (no shell), no stdin, both pipes always drained, and a
 * deadline after which the process is killed; resolves only once the process has exited and been
 * reaped, so no run outlives its caller, and (where setpriv is) no run outlives the process either.
 */
export function runProcess(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  const maxStdout = options.maxStdout ?? 4 * 1024 * 1024;
  const maxStderr = options.maxStderr ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawnTied(command, args);
    const out: Buffer[] = [];
    let outLength = 0;
    let err = Buffer.alloc(0);
    let timedOut = false;

    child.stdout.on("data", (chunk: Buffer) => {
      options.onStdout?.(chunk);
      if (outLength < maxStdout) {
        out.push(chunk.subarray(0, maxStdout - outLength));
        outLength += chunk.length;
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err = Buffer.concat([err, chunk]);
      if (err.length > maxStderr) err = err.subarray(err.length - maxStderr);
    });

    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      child.kill("SIGKILL");
    };
    if (options.abort?.aborted) onAbort();
    options.abort?.addEventListener("abort", onAbort, { once: true });

    child.once("error", (error) => {
      clearTimeout(timer);
      options.abort?.removeEventListener("abort", onAbort);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      options.abort?.removeEventListener("abort", onAbort);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: err.toString("utf8"),
        timedOut,
        aborted,
      });
    });
  });
}

/** Where the tools' own words about a failure go: the server log, never a client's message. */
export type ToolLog = (message: string) => void;

/** The last line a tool wrote to stderr, where its reason for failing is. */
export function lastLine(stderr: string): string {
  return stderr.trim().split("\n").pop() || "(nothing on stderr)";
}

/**
 * Spawns `command` tied to this process's life. The program is looked up first, so a missing one
 * fails as a plain spawn does ("could not be started") rather than as setpriv's exit code.
 */
function spawnTied(command: string, args: string[]) {
  const stdio: ["ignore", "pipe", "pipe"] = ["ignore", "pipe", "pipe"];
  const program = SETPRIV ? findProgram(command) : undefined;
  if (!SETPRIV || !program) return spawn(command, args, { stdio, shell: false });
  // setpriv sets the parent-death signal and execs the program: same pid, same pipes.
  return spawn(SETPRIV, ["--pdeathsig", "KILL", "--", program, ...args], { stdio, shell: false });
}

/** Programs found, by command: one lookup per program, not a walk of PATH per run. */
const programs = new Map<string, string>();

/** The executable `command` names: itself when it has a slash, else the first on PATH. */
function findProgram(command: string): string | undefined {
  let program = programs.get(command);
  if (program === undefined) {
    program = lookUpProgram(command);
    // A program not found is looked up again next time: it may be installed meanwhile.
    if (program !== undefined) programs.set(command, program);
  }
  return program;
}

function lookUpProgram(command: string): string | undefined {
  if (command.includes("/")) return isExecutable(command) ? command : undefined;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
