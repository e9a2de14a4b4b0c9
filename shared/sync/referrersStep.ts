/**
 * After an item's image is at the target: its referrer graph follows (shared/registry/referrers), for the root and
 * every child of an index. With a platform filter the target root is a new index nobody signed, so only the
 * children (unchanged by the filter) bring their referrers.
 */
import type { RegistryClient } from "../registry/client";
import type { KnownBlobs } from "../registry/copy";
import { isIndexType } from "../registry/manifest";
import { copyReferrers, referrerSummary } from "../registry/referrers";
import type { PlanItem } from "./model";

export async function bringReferrers(
  client: RegistryClient,
  item: PlanItem,
  targetDigest: string,
  knownBlobs?: KnownBlobs,
): Promise<string[]> {
  const policy = item.referrers!;
  const root = await client.manifestGet(item.target.registry, item.target.repository, targetDigest);
  const children = isIndexType(root.mediaType) ? root.parsed.manifests.map((m) => m.digest) : [];
  const subjects = [...(targetDigest === item.sourceDigest ? [targetDigest] : []), ...children];
  const copied = await copyReferrers(
    client,
    { registry: item.source.registry, repository: item.source.repository },
    { registry: item.target.registry, repository: item.target.repository },
    subjects,
    {
      ...(policy.artifactTypes ? { artifactTypes: policy.artifactTypes } : {}),
      ...(knownBlobs ? { knownBlobs } : {}),
    },
  );
  return referrerSummary(copied.referrers);
}
