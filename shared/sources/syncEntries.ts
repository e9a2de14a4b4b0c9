/**
 * Sourced images → sync entries. A digest is mirrored by digest (to the tag `<hex>`, the digest rule's convention);
 * a tag is mirrored as that tag. The target repository is the source's path under the target's prefix. The entry's
 * origin carries the source's description, which plans, status rows and the API show.
 */
import type { ImageEntry, Platforms } from "../sync/configTypes";
import { describeOrigin, type SourcedImage } from "./types";

export interface EntryTarget {
  registry: string;
  prefix?: string | undefined;
  platforms?: Platforms;
  pinTag?: boolean;
}

export function toSyncEntries(images: readonly SourcedImage[], target: EntryTarget, firstIndex = 0): ImageEntry[] {
  const seen = new Set<string>();
  const out: ImageEntry[] = [];
  images.forEach((image, i) => {
    const rule = image.digest
      ? ({ kind: "digest", digest: image.digest } as const)
      : image.tag
        ? ({ kind: "tags", tags: [image.tag] } as const)
        : undefined;
    if (!rule) return;
    const repository = target.prefix ? `${target.prefix}/${image.repository}` : image.repository;
    // One entry per (source, what is mirrored, target): several manifests naming one image are one copy.
    const key = `${image.registry}/${image.repository}|${image.digest ?? image.tag}|${target.registry}/${repository}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({
      origin: {
        list: "sources",
        index: firstIndex + i,
        line: image.origin.kind === "file" ? image.origin.line : 0,
        described: describeOrigin(image.origin),
      },
      source: { registry: image.registry, repository: image.repository },
      target: { registry: target.registry, repository },
      platforms: target.platforms ?? "all",
      pinTag: target.pinTag ?? false,
      rule,
    });
  });
  return out;
}
