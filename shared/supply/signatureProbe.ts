/**
 * Does a digest have a signature at this registry? One Referrers API call (a cosign or Notary signature among the
 * referrers); where the registry has no API, one HEAD of cosign's `sha256-<hex>.sig` tag instead. A probe says
 * "signed", not "verified": the trace has no key to verify with. A probe that fails answers undefined (unknown).
 */
import type { RegistryClient } from "../registry/client";
import { COSIGN_TAG_TYPES, NOTATION_SIGNATURE_TYPE, fallbackTag } from "../registry/referrers";

const SIGNATURE_TYPES = new Set<string>([COSIGN_TAG_TYPES.sig, NOTATION_SIGNATURE_TYPE]);

export async function hasSignature(
  client: RegistryClient,
  registry: string,
  repository: string,
  digest: string,
): Promise<boolean | undefined> {
  try {
    const listed = await client.referrersApi(registry, repository, digest);
    if (listed?.some((d) => d.artifactType !== undefined && SIGNATURE_TYPES.has(d.artifactType))) return true;
    // cosign writes the `.sig` tag even where the API exists, unless told to use referrers.
    return (await client.manifestHead(registry, repository, `${fallbackTag(digest)}.sig`)) !== null;
  } catch {
    return undefined;
  }
}
