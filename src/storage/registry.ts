import { randomUUID } from "node:crypto";
import path from "node:path";
import type { PrismaClient } from "../db/client.js";
import type { Storage, UrlOptions } from "./contract.js";
import { DatabaseStorage } from "./database.js";
import { FileSystemStorage } from "./filesystem.js";
import { InMemoryStorage } from "./memory.js";
import { normalizingImageExtensions } from "./normalize.js";
import { renderUploadRoute, type RouteTokens } from "./routes.js";
import { S3Storage, type ObjectParameters } from "./s3.js";
import { servedUrl, type ServedUrlOptions } from "./served.js";
import type { BackendSettings, StorageSettings } from "./settings.js";
import { loadOrCreateSigningKey, UrlSigner } from "./signing.js";

export type FileRole = "original" | "version";

/** How clients reach one alias's bytes. */
export interface Serving {
  /** "service": the media route streams them; "redirect": it answers with a link to the store; "direct": links go to the store. */
  mode: "service" | "redirect" | "direct";
  /** URL prefix of the media route for this alias (unused for "direct"). */
  baseUrl: string;
  /** Links are signed and expire. */
  signed: boolean;
  expiresIn: number;
}

export interface RegistryOptions {
  settings: StorageSettings;
  /** Defaults for filesystem backends without a location, and for URLs. */
  mediaRoot: string;
  mediaUrl: string;
  /** Origin (and path prefix) the service is reached at: links to its media route become absolute. */
  publicUrl?: string;
  signer: UrlSigner;
  prisma: PrismaClient;
}

export const DEFAULT_UPLOAD_ROUTE = "{kind}/{yyyy}/{mm}/{shelf}/{name}.{ext}";

/**
 * Storage backends by alias, like Django's STORAGES (`default` is required): each is built on
 * first use and kept. Also answers which alias holds which kind's originals and versions, where
 * in it an upload goes, and how its files are served.
 */
export class StorageRegistry {
  private readonly built = new Map<string, Storage>();
  /** Each alias's serving and link options, made on first use: url() runs for every file a page shows. */
  private readonly links = new Map<string, { serving: Serving; served: ServedUrlOptions }>();

  constructor(private readonly options: RegistryOptions) {
    assertNoOverlap(options.settings, options.mediaRoot);
  }

  /** The backends' raw settings, like Django's storages.backends. */
  get backends(): Record<string, BackendSettings> {
    return this.options.settings.storages;
  }

  get(alias: string): Storage {
    let storage = this.built.get(alias);
    if (!storage) {
      const settings = this.backends[alias];
      if (!settings) throw new Error(`No storage configured under the alias ${JSON.stringify(alias)}`);
      storage = this.createStorage(settings, alias);
      this.built.set(alias, storage);
    }
    return storage;
  }

  aliases(): string[] {
    return Object.keys(this.backends);
  }

  /** Django's storages.create_storage(): a new backend from settings, not kept. */
  createStorage(settings: BackendSettings, alias = `adhoc-${randomUUID()}`): Storage {
    const served = this.servedOptions(alias, this.serving(alias, settings));
    let storage: Storage;
    switch (settings.backend) {
      case "filesystem": {
        const location = settings.options.location ?? (alias === "default" ? this.options.mediaRoot : undefined);
        // Another alias inside the default root would look like orphans to gc there.
        if (!location) throw new Error(`The filesystem storage ${JSON.stringify(alias)} needs a location`);
        storage = new FileSystemStorage({ ...settings.options, ...served, location });
        break;
      }
      case "memory":
        storage = new InMemoryStorage({ ...settings.options, ...served });
        break;
      case "database":
        storage = new DatabaseStorage({ ...settings.options, ...served, prisma: this.options.prisma, alias });
        break;
      case "s3":
        storage = new S3Storage({ ...settings.options, objectParameters: settings.options.objectParameters as ObjectParameters | undefined });
        break;
    }
    return settings.options.normalizeImageExtensions ? normalizingImageExtensions(storage) : storage;
  }

  /** How clients reach the files of `alias` (under its configured settings unless `settings` are given). */
  serving(alias: string, settings?: BackendSettings): Serving {
    return settings ? this.servingOf(alias, settings) : this.linksOf(alias).serving;
  }

  private servingOf(alias: string, settings: BackendSettings | undefined): Serving {
    if (!settings) throw new Error(`No storage configured under the alias ${JSON.stringify(alias)}`);
    const baseUrl = settings.options.baseUrl ?? (alias === "default" ? this.options.mediaUrl : `${this.options.mediaUrl}@${alias}/`);
    if (settings.backend === "s3") {
      const mode = settings.options.serve ?? "direct";
      // A bucket kept private (presigned links) stays private behind the media route too.
      const signed = mode !== "direct" && (settings.options.querystringAuth ?? true);
      return { mode: mode === "proxy" ? "service" : mode, baseUrl, signed, expiresIn: settings.options.querystringExpire ?? 3600 };
    }
    return {
      mode: "service",
      baseUrl,
      signed: settings.options.querystringAuth ?? false,
      expiresIn: settings.options.querystringExpire ?? 3600,
    };
  }

  /**
   * The URL a client uses for `name` in `alias`: the store's own, or the media route's. The
   * media route's is made at once; only a store's own (a presigned link) may have to wait.
   */
  url(alias: string, name: string, options: UrlOptions = {}): string | Promise<string> {
    const links = this.linksOf(alias);
    if (links.serving.mode === "direct") return this.get(alias).url(name, options);
    return servedUrl(links.served, name, options);
  }

  private linksOf(alias: string): { serving: Serving; served: ServedUrlOptions } {
    let links = this.links.get(alias);
    if (!links) {
      const serving = this.servingOf(alias, this.backends[alias]);
      links = { serving, served: this.servedOptions(alias, serving) };
      this.links.set(alias, links);
    }
    return links;
  }

  /** How the media route's links for `alias` are made: the same for its backend and for url(). */
  private servedOptions(alias: string, serving: Serving): ServedUrlOptions {
    return { baseUrl: this.linkBase(serving.baseUrl), querystringAuth: serving.signed, querystringExpire: serving.expiresIn, signer: this.options.signer, scope: alias };
  }

  /**
   * Where links to the media route start. The route is mounted at the base's path; a frontend
   * on another origin needs the service's own in front of it, so a path-only base gets
   * PUBLIC_URL's (an absolute MEDIA_URL or baseUrl is kept as written).
   */
  private linkBase(baseUrl: string): string {
    const pathOnly = baseUrl.startsWith("/") && !baseUrl.startsWith("//");
    return pathOnly && this.options.publicUrl ? this.options.publicUrl.replace(/\/+$/, "") + baseUrl : baseUrl;
  }

  /** Whether a request's query makes a valid link to `name` in `alias` ("missing" when it carries no signature). */
  checkSignature(alias: string, name: string, query: Record<string, unknown>): ReturnType<UrlSigner["check"]> {
    return this.options.signer.check(alias, name, query);
  }

  /** Which alias holds `kind`'s files of `role`: its routing entry, then "*", then "default". */
  aliasFor(kind: string, role: FileRole): string {
    const routing = this.options.settings.routing;
    return routing[kind]?.[role] ?? routing["*"]?.[role] ?? "default";
  }

  /** Where an upload of `kind` goes inside its storage, from the kind's upload route. */
  uploadName(alias: string, kind: string, tokens: Omit<RouteTokens, "kind">): string {
    const routes = this.options.settings.uploadRoutes;
    const template = routes[kind] ?? routes["*"] ?? DEFAULT_UPLOAD_ROUTE;
    return this.get(alias).generateFilename(renderUploadRoute(template, { ...tokens, kind }));
  }

  /** Closes network clients so the process can exit. */
  close(): void {
    for (const storage of this.built.values()) if (storage instanceof S3Storage) storage.client.destroy();
  }
}

/** The registry for a configuration: the one way the service and its commands open storage. */
export function openStorages(options: {
  settings: StorageSettings;
  mediaRoot: string;
  mediaUrl: string;
  publicUrl?: string;
  dataDir: string;
  signingKey?: string;
  prisma: PrismaClient;
}): StorageRegistry {
  const signer = new UrlSigner(loadOrCreateSigningKey(options.dataDir, options.signingKey));
  return new StorageRegistry({ ...options, signer });
}

/**
 * Two aliases whose files share a place would each see the other's files as orphans, and gc
 * would delete them: refuse such a configuration at start.
 */
function assertNoOverlap(settings: StorageSettings, mediaRoot: string): void {
  const places: Array<{ alias: string; place: string }> = [];
  for (const [alias, backend] of Object.entries(settings.storages)) {
    if (backend.backend === "filesystem") {
      const location = backend.options.location ?? (alias === "default" ? mediaRoot : undefined);
      if (location) places.push({ alias, place: `file:${path.resolve(location)}/` });
    } else if (backend.backend === "s3") {
      const o = backend.options;
      const prefix = o.location ? `${o.location.replace(/^\/+|\/+$/g, "")}/` : "";
      places.push({ alias, place: `s3:${o.endpoint ?? "aws"}/${o.bucket}/${prefix}` });
    }
  }
  for (const a of places) {
    for (const b of places) {
      if (a !== b && b.place.startsWith(a.place)) {
        throw new Error(`The storages ${JSON.stringify(a.alias)} and ${JSON.stringify(b.alias)} overlap: ${JSON.stringify(b.alias)} lies inside ${JSON.stringify(a.alias)}`);
      }
    }
  }
}
