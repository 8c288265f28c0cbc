import fs from "node:fs/promises";
import path from "node:path";

/** Where a data directory keeps its scratch space. */
export function scratchRootOf(dataDir: string): string {
  return path.join(dataDir, "scratch");
}

/**
 * Scratch directories for work in progress (transcoder output, poster frames, local copies of
 * remote originals), under the data directory rather than the OS temp dir, one folder per
 * process: what a killed process leaves behind is found and swept by the next start or by gc,
 * and a live process's folder (a worker beside the service) is left alone.
 */
export class ScratchSpace {
  /** This process's folder. */
  readonly dir: string;

  constructor(readonly root: string) {
    this.dir = path.join(root, String(process.pid));
  }

  /** A new directory of its own, named `prefix…`; the caller removes it. */
  async make(prefix: string): Promise<string> {
    await fs.mkdir(this.dir, { recursive: true });
    return fs.mkdtemp(path.join(this.dir, prefix));
  }

  /**
   * The folders processes that are gone left behind, and this process's own (its pid may be one
   * a dead process had, as a container's first process always is).
   */
  async leftovers(): Promise<string[]> {
    const entries = await fs.readdir(this.root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    return entries.filter((name) => {
      const pid = /^\d+$/.test(name) ? Number(name) : undefined;
      return pid === undefined || pid === process.pid || !isAlive(pid);
    });
  }

  /** Removes the leftovers; call it before this process makes any scratch. Returns the folders removed. */
  async sweep(): Promise<string[]> {
    const removed = await this.leftovers();
    for (const name of removed) await fs.rm(path.join(this.root, name), { recursive: true, force: true });
    return removed;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but is another user's.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
