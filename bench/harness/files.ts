import fsp from "node:fs/promises";

/** Flushes a written file to disk, as the service does with what it stores: baselines must pay the same. */
export async function fsyncFile(file: string): Promise<void> {
  const handle = await fsp.open(file, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
