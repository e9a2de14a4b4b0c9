/**
 * Which base digest a managed image was built from, per base, from the strongest evidence available:
 * 1. `org.opencontainers.image.base.digest` on the image (annotation or label), matched to the base by
 *    `org.opencontainers.image.base.name`, or to the final stage's base when there is no name;
 * 2. the image's layers, for the final stage's base: built on the base digest (current or earlier) whose layers
 *    they start with;
 * 3. a digest pinned in the Dockerfile; 4. `builtFrom` in the enrollment; 5. the baseline recorded at enrollment.
 * Reading from the registry can fail; a failed read only drops that evidence, the weaker kinds still apply.
 */
import { InvalidReferenceError } from "../registry/reference";
import type { RegistryClient } from "../registry/client";
import type { BaseStore, EnrollmentRecord } from "../store/baseStore";
import type { CurrentDigest, HeadCache, Location } from "./currentDigests";
import type { EdgeFacts, Evidence } from "./eligibility";
import type { BaseEdge, BaseGraph, GraphBase, GraphImage } from "./graph";
import { BASE_DIGEST, BASE_NAME, readImageFacts, type ImageFacts } from "./imageFacts";
import { parseImageName, repositoryKey } from "./imageName";

export interface EvidenceDeps {
  client: RegistryClient;
  store: BaseStore;
  heads: HeadCache;
}

/** A managed image as it is now: the digest its tag points at and what its config says. */
export interface ManagedObservation {
  digest?: string;
  facts?: ImageFacts;
  problems: string[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function observeManaged(node: GraphImage, deps: EvidenceDeps): Promise<ManagedObservation> {
  const { registry, repository, tag } = node.image.image;
  const problems: string[] = [];
  let digest: string | null;
  try {
    digest = await deps.heads.digest(registry, repository, tag);
  } catch (err) {
    return { problems: [`${registry}/${repository}:${tag}: ${message(err)}`] };
  }
  if (!digest) return { problems: [`${registry}/${repository}:${tag} not found (not built yet?)`] };
  try {
    const facts = await readImageFacts(deps.client, { registry, repository, digest }, undefined, deps.store);
    return { digest, ...(facts ? { facts } : {}), problems };
  } catch (err) {
    problems.push(`cannot read the image config: ${message(err)}`);
    return { digest, problems };
  }
}

function namesBase(name: string, base: GraphBase): boolean {
  let named;
  try {
    named = parseImageName(name);
  } catch (err) {
    if (err instanceof InvalidReferenceError) return false;
    throw err;
  }
  const repos = [repositoryKey(base), ...(base.mirroredFrom ? [repositoryKey(base.mirroredFrom)] : [])];
  // A name given by digest alone carries no tag (parseImageName adds latest only when neither is given).
  return (
    repos.includes(repositoryKey(named)) &&
    (named.tag === undefined || base.tag === undefined || named.tag === base.tag)
  );
}

function labelEvidence(facts: ImageFacts, base: GraphBase, edge: BaseEdge): Evidence | undefined {
  const sources = [
    { from: "annotation" as const, values: facts.annotations },
    { from: "label" as const, values: facts.labels },
  ];
  for (const { from, values } of sources) {
    const digest = values[BASE_DIGEST];
    if (!digest) continue;
    const name = values[BASE_NAME];
    if (name ? !namesBase(name, base) : !edge.final) continue;
    return { kind: "label", digest, from };
  }
  return undefined;
}

/** Facts of the base at `digest` for the image's platform; undefined when they cannot be read. */
async function baseFactsAt(
  deps: EvidenceDeps,
  locations: readonly Location[],
  digest: string,
  image: ImageFacts,
): Promise<ImageFacts | undefined> {
  // The mirror first (no upstream pull quota), then the base's own registry, which keeps old digests longer.
  for (const location of locations) {
    try {
      return await readImageFacts(deps.client, { ...location, digest }, image.platform, deps.store);
    } catch {
      // not there (any more): try the next place
    }
  }
  return undefined;
}

function startsWith(layers: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length > 0 && prefix.length <= layers.length && prefix.every((d, i) => layers[i] === d);
}

/**
 * Finds the base digest whose layers the image starts with: the current one, else the newest earlier one that
 * matches (a base that only appended layers also prefixes later images, so newest first picks the right one).
 */
async function layerEvidence(
  deps: EvidenceDeps,
  base: GraphBase,
  current: Extract<CurrentDigest, { ok: true }>,
  image: ImageFacts,
): Promise<Evidence | undefined> {
  const own = { registry: base.registry, repository: base.repository };
  const locations = [current.readFrom, ...(repositoryKey(current.readFrom) === repositoryKey(own) ? [] : [own])];
  const earlier = current.history.map((h) => h.digest).reverse();
  const candidates = [...new Set([current.digest, ...earlier])];
  for (const digest of candidates) {
    const facts = await baseFactsAt(deps, locations, digest, image);
    // Without the current base's layers there is nothing to compare with.
    if (!facts || facts.diffIds.length === 0) {
      if (digest === current.digest) return undefined;
      continue;
    }
    if (startsWith(image.diffIds, facts.diffIds))
      return { kind: "layers", matchesCurrent: digest === current.digest, digest };
  }
  return { kind: "layers", matchesCurrent: false };
}

/** The facts eligibility needs for each direct base of one managed image. */
export async function edgeFacts(
  node: GraphImage,
  observed: ManagedObservation,
  record: EnrollmentRecord | undefined,
  graph: BaseGraph,
  current: ReadonlyMap<string, CurrentDigest>,
  deps: EvidenceDeps,
): Promise<EdgeFacts[]> {
  const out: EdgeFacts[] = [];
  for (const edge of node.edges) {
    const base = graph.bases.get(edge.base)!;
    const now = current.get(edge.base);
    const facts: EdgeFacts = {
      base: edge.base,
      critical: base.critical,
      ...(edge.pinned ? { pinned: edge.pinned } : {}),
      ...(now?.ok ? { current: { digest: now.digest, since: now.since } } : {}),
      ...(now && !now.ok ? { currentError: now.error } : {}),
      history: now?.ok ? now.history : [],
    };
    const image = observed.facts;
    let evidence = image ? labelEvidence(image, base, edge) : undefined;
    if (now?.ok && image && evidence?.kind === "label" && evidence.digest !== now.digest) {
      // A label may name the platform manifest rather than the index the tag resolves to.
      const own = { registry: base.registry, repository: base.repository };
      const onBase = await baseFactsAt(deps, [now.readFrom, own], now.digest, image);
      if (onBase?.index) facts.currentAliases = onBase.index.children;
    }
    if (!evidence && now?.ok && edge.final && image && image.diffIds.length > 0) {
      evidence = await layerEvidence(deps, base, now, image);
    }
    const enrolled = node.image.builtFrom[edge.base];
    const baseline = record?.baseline[edge.base];
    evidence ??= edge.pinned
      ? { kind: "dockerfile-pin", digest: edge.pinned }
      : enrolled
        ? { kind: "enrollment", digest: enrolled }
        : baseline
          ? { kind: "baseline", digest: baseline.digest, at: baseline.at }
          : undefined;
    out.push(evidence ? { ...facts, evidence } : facts);
  }
  return out;
}
