import { MediaKind } from "./generated/enums.js";

/**
 * Every media kind, in the order prisma/schema.prisma declares them (the order the API lists
 * them in). Settings, the kinds registry and the command line take the list from here.
 */
export const MEDIA_KINDS = Object.values(MediaKind) as [MediaKind, ...MediaKind[]];
