import { spawn } from "node:child_process";

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
 * Runs a program with an argument array (no shell), no stdin, both pipes always drained, and a
 * deadline after which the process is killed; resolves only once the process has exited and been
 * reaped, so no run outlives its caller.
 */
export function runProcess(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  const maxStdout = options.maxStdout ?? 4 * 1024 * 1024;
  const maxStderr = options.maxStderr ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], shell: false });
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
