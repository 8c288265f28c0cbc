import { z } from "zod";
import type { MediaKind } from "../db/generated/enums.js";
import { MEDIA_KINDS } from "../db/media-kinds.js";

/** A format a kind accepts, as file-type detects it from the bytes. */
export interface MediaFormat {
  mimeType: string;
  extension: string;
  /** The ffmpeg demuxer forced when probing or decoding (never guessed from the file). */
  demuxer?: string;
}

export type Analyzer = "image" | "av" | "none";

const positive = z.number().int().positive().optional();

/** Per-kind settings: the accepted formats (by extension, a subset of the kind's) and limits beyond size. */
export const KindSettingsSchema = z
  .object({
    formats: z.array(z.string()).optional(),
    minWidth: positive,
    minHeight: positive,
    maxWidth: positive,
    maxHeight: positive,
    /** Most pixels of an image, checked from its header before anything is decoded. */
    maxPixels: positive,
    maxDurationMs: positive,
    /** Most files of this kind in one upload request. */
    maxFilesPerUpload: positive,
  })
  .strict();

/** MEDIA_KIND_RULES: settings per kind, such as {"IMAGE": {"maxWidth": 8000, "formats": ["jpg", "png"]}}. */
export const KindSettingsByKindSchema = z.partialRecord(z.enum(MEDIA_KINDS), KindSettingsSchema);

export type KindSettings = z.infer<typeof KindSettingsSchema>;
/** Limits an upload of a kind must keep within, beyond its formats and size (all optional). */
export type KindRules = Omit<KindSettings, "formats">;

export interface KindSpec extends KindRules {
  kind: MediaKind;
  /** The GraphQL object type of shelves of this kind (schema.graphql). */
  shelfType: string;
  formats: MediaFormat[];
  maxFileSize: number;
  analyzer: Analyzer;
}

const f = (mimeType: string, extension: string, demuxer?: string): MediaFormat => ({ mimeType, extension, demuxer });

/**
 * Every kind of media the service accepts. Adding a kind is one entry here, its value in the
 * MediaKind enums (prisma/schema.prisma and schema.graphql) and its GraphQL type.
 */
export const KIND_FORMATS: Record<MediaKind, Pick<KindSpec, "kind" | "shelfType" | "analyzer" | "formats">> = {
  IMAGE: {
    kind: "IMAGE",
    shelfType: "ImageShelf",
    analyzer: "image",
    formats: [
      f("image/jpeg", "jpg"),
      f("image/png", "png"),
      f("image/gif", "gif"),
      f("image/webp", "webp"),
      f("image/avif", "avif"),
      f("image/heic", "heic"),
      f("image/heif", "heif"),
      f("image/tiff", "tif"),
    ],
  },
  AUDIO: {
    kind: "AUDIO",
    shelfType: "AudioShelf",
    analyzer: "av",
    formats: [
      f("audio/mpeg", "mp3", "mp3"),
      f("audio/wav", "wav", "wav"),
      f("audio/flac", "flac", "flac"),
      f("audio/ogg", "ogg", "ogg"),
      f("audio/ogg; codecs=opus", "opus", "ogg"),
      f("audio/x-m4a", "m4a", "mov"),
      f("audio/mp4", "m4a", "mov"),
      f("audio/aac", "aac", "aac"),
    ],
  },
  VIDEO: {
    kind: "VIDEO",
    shelfType: "VideoShelf",
    analyzer: "av",
    formats: [
      f("video/mp4", "mp4", "mov"),
      f("video/x-m4v", "m4v", "mov"),
      f("video/quicktime", "mov", "mov"),
      f("video/webm", "webm", "matroska"),
      f("video/matroska", "mkv", "matroska"),
    ],
  },
  DOCUMENT: {
    kind: "DOCUMENT",
    shelfType: "DocumentShelf",
    analyzer: "none",
    formats: [
      f("application/pdf", "pdf"),
      f("application/rtf", "rtf"),
      f("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
      f("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
      f("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
      f("application/vnd.oasis.opendocument.text", "odt"),
      f("application/vnd.oasis.opendocument.spreadsheet", "ods"),
      f("application/vnd.oasis.opendocument.presentation", "odp"),
    ],
  },
};

export class KindRegistry {
  private readonly specs: KindSpec[];

  constructor(limits: Record<MediaKind, number>, settings: Partial<Record<MediaKind, KindSettings>> = {}) {
    this.specs = MEDIA_KINDS.map((kind) => {
      const { formats: allowed, ...rules } = settings[kind] ?? {};
      const base = KIND_FORMATS[kind];
      const unknown = allowed?.filter((ext) => !base.formats.some((f) => f.extension === ext)) ?? [];
      if (unknown.length > 0) {
        throw new Error(`${kind} cannot accept ${unknown.join(", ")}; it knows ${[...new Set(base.formats.map((f) => f.extension))].join(", ")}`);
      }
      const formats = allowed ? base.formats.filter((f) => allowed.includes(f.extension)) : base.formats;
      return { ...base, ...rules, formats, maxFileSize: limits[kind] };
    });
  }

  all(): readonly KindSpec[] {
    return this.specs;
  }

  get(kind: MediaKind): KindSpec {
    const spec = this.specs.find((s) => s.kind === kind);
    if (!spec) throw new Error(`Unknown media kind ${kind}`);
    return spec;
  }

  /** The kind that accepts `mimeType`, and the format entry, or undefined. */
  forMimeType(mimeType: string): { spec: KindSpec; format: MediaFormat } | undefined {
    for (const spec of this.specs) {
      const format = spec.formats.find((fmt) => fmt.mimeType === mimeType);
      if (format) return { spec, format };
    }
    return undefined;
  }

  /** The largest per-kind limit: the cap applied before the kind is known. */
  largestLimit(): number {
    return Math.max(...this.specs.map((s) => s.maxFileSize));
  }
}
