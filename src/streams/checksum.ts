import { createHash } from "node:crypto";
import { asBuffer, type Chunks } from "./chunks.js";

/** Counts and hashes (sha256) the bytes passed through it, for the row that records them. */
export class StreamChecksum {
  private readonly hash = createHash("sha256");
  private bytes = 0;
  private digest: string | undefined;

  /** `source` unchanged, each chunk counted and hashed on its way. */
  async *pass(source: Chunks): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const data = asBuffer(chunk);
      this.bytes += data.length;
      this.hash.update(data);
      yield data;
    }
  }

  /** How many bytes have passed so far. */
  get size(): number {
    return this.bytes;
  }

  /** Lower-case hex sha256 of every byte passed; read it once the stream has ended. */
  checksum(): string {
    this.digest ??= this.hash.digest("hex");
    return this.digest;
  }
}
