/** Where a version's bytes live: beside nothing else, named by shelf, variant and recipe. */
export function versionName(shelfId: string, variant: string, tag: string, extension: string): string {
  return `versions/${shelfId}/${variant}.${tag}.${extension}`;
}

/** The shelf and variant a version's storage name names (its tag changes each time it is made). */
export function parseVersionName(name: string): { shelfId: string; variant: string } | undefined {
  const match = /^versions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/([a-z0-9-]+)\.[^/]+$/.exec(name);
  return match ? { shelfId: match[1]!, variant: match[2]! } : undefined;
}
