import fs from "node:fs";
import { sleep } from "./settings.js";

/** Memory of a process from /proc: RSS now, its peak over a window, and when it has settled. */

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
  const poll = pollPeakRss(pid, pollMs, idleKiB);
  return {
    finish() {
      const polledPeakKiB = poll.stop();
      const hwmKiB = readMem(pid).hwmKiB;
      return { idleKiB, peakKiB: hwmReset ? Math.max(hwmKiB, polledPeakKiB) : polledPeakKiB, polledPeakKiB, hwmReset, resetNote };
    },
  };
}

/** The largest VmRSS seen every `pollMs` until `stop()` (which takes one last sample). */
export function pollPeakRss(pid: number, pollMs: number, startKiB = 0): { stop(): number } {
  let peakKiB = startKiB;
  const sample = () => {
    try {
      peakKiB = Math.max(peakKiB, readMem(pid).rssKiB);
    } catch {
      // the process is gone; the measurement that needed it fails and says so
    }
  };
  const timer = setInterval(sample, pollMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peakKiB;
    },
  };
}

/** Waits (at most `maxMs`) until five samples 250 ms apart lie within 4 MiB; returns the last. */
export async function settledRss(pid: number, maxMs = 10_000): Promise<number> {
  const samples: number[] = [];
  const deadline = Date.now() + maxMs;
  for (;;) {
    samples.push(readMem(pid).rssKiB);
    const recent = samples.slice(-5);
    if (recent.length === 5 && Math.max(...recent) - Math.min(...recent) < 4096) break;
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  return samples.at(-1)!;
}

export const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
