import type { Prisma } from "../db/generated/client.js";
import type { DirectQuery } from "../db/client.js";
import { byStoredName, byVariant, servedFile, servedFileSql, type ServedFile, type ServedFileRow } from "./sql/serving.js";
import { parseVersionName } from "./versions/index.js";

/**
 * The file stored under `name` in `storage`, whoever owns it, with its shelf's visibility (the
 * media route serves by name). A version is remade under a new name, so a link handed out
 * earlier still reaches the version's current bytes.
 */
export async function servedFileByName(query: DirectQuery, storage: string, name: string): Promise<ServedFile | null> {
  const file = await fileWithShelf(query, byStoredName(storage, name));
  if (file) return file;
  const version = parseVersionName(name);
  if (!version) return null;
  const current = await fileWithShelf(query, byVariant(version.shelfId, version.variant));
  return current?.storage === storage && current.role === "VERSION" ? current : null;
}

async function fileWithShelf(query: DirectQuery, where: Prisma.Sql): Promise<ServedFile | null> {
  const [row] = await query<ServedFileRow>(servedFileSql(where));
  return row ? servedFile(row) : null;
}
