/**
 * The digest of one platform's image behind a tag, as RunWhen's CodeCollection sync extracts it
 * (`get_arch_child_digest`): for an index, the child whose platform matches (OS, architecture, and variant when one is
 * asked for); for a single image, its own digest. One manifest GET per tag (a HEAD cannot see the children).
 */
import type { RegistryClient } from "../registry/client";
import { platformMatches } from "../registry/platforms";
import type { Platform } from "./configTypes";
import type { RateBudget } from "./rateBudget";

export async function platformDigest(
  client: RegistryClient,
  registry: string,
  repository: string,
  tag: string,
  platform: Platform,
  budget?: RateBudget,
): Promise<string | undefined> {
  budget?.check(registry);
  const manifest = await client.manifestGet(registry, repository, tag);
  const children = manifest.parsed.manifests;
  if (!children) return manifest.digest;
  return children.find((c) => platformMatches(platform, c.platform))?.digest;
}
