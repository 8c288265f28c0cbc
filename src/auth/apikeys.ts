import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { PrismaClient } from "../db/client.js";
import type { ApiKey } from "../db/generated/client.js";
import type { Viewer } from "./viewer.js";

const KEY = /^mk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Last-used times are written at most this often per key, so busy keys do not write on every call. */
const TOUCH_EVERY_MS = 60_000;

const digest = (secret: string) => createHash("sha256").update(secret).digest("hex");

/** API keys for server-to-server calls: made, listed and revoked by the operator's command. */
export class ApiKeyService {
  constructor(private readonly prisma: PrismaClient) {}

  /** Makes a key for one owner (admin keys see every library); the key is returned only here. */
  async create(options: { ownerId: string; name: string; admin?: boolean }): Promise<{ id: string; key: string }> {
    const id = randomBytes(8).toString("hex");
    const secret = randomBytes(32).toString("base64url");
    await this.prisma.apiKey.create({ data: { id, name: options.name, hash: digest(secret), ownerId: options.ownerId, admin: options.admin ?? false } });
    return { id, key: `mk_${id}_${secret}` };
  }

  list(): Promise<ApiKey[]> {
    return this.prisma.apiKey.findMany({ orderBy: { createdAt: "asc" } });
  }

  /** Revokes a key; false when there is no such key or it was revoked already. */
  async revoke(id: string): Promise<boolean> {
    const { count } = await this.prisma.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
    return count > 0;
  }

  /** The viewer a presented key stands for, or null when it is malformed, unknown or revoked. */
  async lookup(key: string): Promise<Viewer | null> {
    const match = KEY.exec(key);
    if (!match) return null;
    const row = await this.prisma.apiKey.findUnique({ where: { id: match[1]! } });
    if (!row || row.revokedAt) return null;
    const expected = Buffer.from(row.hash, "hex");
    if (!timingSafeEqual(expected, Buffer.from(digest(match[2]!), "hex"))) return null;
    const now = Date.now();
    if (!row.lastUsedAt || now - row.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
      await this.prisma.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date(now) } });
    }
    return { ownerId: row.ownerId, admin: row.admin };
  }
}
