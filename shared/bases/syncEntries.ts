/**
 * What the enrollment adds to the sync set: enrolled external images (mirrored like any sync entry) and the
 * external bases found in Dockerfiles (each followed by its tag, pinned digests kept). A base the sync already
 * mirrors under a rule that selects its tag is not added twice.
 */
import type {
  ConfigOrigin,
  ImageEntry,
  Platforms,
  RepositoryRef,
  SyncConfig,
  SyncDefaults,
  TagRule,
} from "../sync/configTypes";
import { selectTags } from "../sync/tagRules";
import type { Enrollment, ExternalImage } from "./enrollmentTypes";
import type { BaseGraph, GraphBase, MirrorContext } from "./graph";
import { repositoryKey } from "./imageName";

/** The parts of a sync config the merge needs. */
export interface SyncContext {
  target: SyncConfig["target"];
  defaults: { platforms: Platforms; pinTag: boolean } & Partial<Pick<SyncDefaults, "referrers" | "verify">>;
  images: readonly ImageEntry[];
  serviceConfigs?: readonly ImageEntry[];
}

export interface EntryOptions {
  /**
   * `origin.list` of the entries returned. ConfigOrigin knows only the sync config's lists; until it has one for
   * enrollments, the entries say `images`, with `index` counting the returned entries and `line` in the enrollment.
   */
  originList?: ConfigOrigin["list"];
}

function targetRepository(sync: SyncContext, path: string): string {
  return sync.target.prefix ? `${sync.target.prefix}/${path}` : path;
}

function entryFor(
  sync: SyncContext,
  source: RepositoryRef,
  targetRepo: string,
  rule: TagRule,
  origin: ConfigOrigin,
): ImageEntry {
  return {
    origin,
    source: { registry: source.registry, repository: source.repository },
    target: { registry: sync.target.registry, repository: targetRepo },
    platforms: sync.defaults.platforms,
    pinTag: sync.defaults.pinTag,
    rule,
    // The sync's supply-chain defaults cover discovered images like any other entry.
    ...(sync.defaults.referrers ? { referrers: sync.defaults.referrers } : {}),
    ...(sync.defaults.verify ? { verify: sync.defaults.verify } : {}),
  };
}

/** The sync entries for enrolled external images, in enrollment order. */
export function externalEntries(enrollment: Enrollment, sync: SyncContext, options: EntryOptions = {}): ImageEntry[] {
  return enrollment.images
    .filter((i): i is ExternalImage => i.kind === "external")
    .map((image, index) =>
      entryFor(sync, image.image, targetRepository(sync, image.target ?? image.image.repository), image.rule, {
        list: options.originList ?? "bases",
        index,
        line: image.line,
      }),
    );
}

/** What lets the graph trace a mirror reference back upstream: every sync entry, enrolled externals included. */
export function mirrorContext(enrollment: Enrollment, sync: SyncContext): MirrorContext {
  return {
    target: sync.target,
    entries: [...sync.images, ...(sync.serviceConfigs ?? []), ...externalEntries(enrollment, sync)],
  };
}

/** Whether an entry already mirrors this tag (or digest) without needing the upstream tag list to tell. */
export function covers(entry: ImageEntry, source: RepositoryRef, want: { tag?: string; digest?: string }): boolean {
  if (repositoryKey(entry.source) !== repositoryKey(source)) return false;
  const { rule } = entry;
  if (want.digest !== undefined) return rule.kind === "digest" && rule.digest === want.digest;
  if (want.tag === undefined) return false;
  // Rules that choose among listed tags by order or by digest (newest, follow) may drop the tag at any run.
  if (rule.kind !== "tags" && rule.kind !== "semver" && rule.kind !== "filter") return false;
  return selectTags(rule, [want.tag]).selections.some((s) => s.kind === "tag" && s.sourceTag === want.tag);
}

/** Where the sync reads a base from upstream: the base itself, or what its mirror reference was copied from. */
export function upstreamOf(base: GraphBase): RepositoryRef | undefined {
  if (base.kind !== "external") return undefined;
  if (base.mirroredFrom) return base.mirroredFrom;
  return base.inTarget ? undefined : { registry: base.registry, repository: base.repository };
}

interface Wanted {
  source: RepositoryRef;
  tags: string[];
  digests: string[];
  line: number;
}

/** Tags and digests each upstream repository must have mirrored for the graph's external bases. */
function wanted(enrollment: Enrollment, graph: BaseGraph): Map<string, Wanted> {
  const out = new Map<string, Wanted>();
  const want = (base: GraphBase, tag: string | undefined, digest: string | undefined, line: number): void => {
    const source = upstreamOf(base);
    if (!source) return;
    const key = repositoryKey(source);
    const entry = out.get(key) ?? { source, tags: [], digests: [], line };
    if (tag !== undefined && !entry.tags.includes(tag)) entry.tags.push(tag);
    if (digest !== undefined && !entry.digests.includes(digest)) entry.digests.push(digest);
    out.set(key, entry);
  };
  for (const image of enrollment.images) {
    const node = graph.images.get(image.name);
    for (const edge of node?.edges ?? []) {
      const base = graph.bases.get(edge.base);
      if (!base) continue;
      want(base, base.tag, base.tag === undefined ? base.digest : edge.pinned, image.line);
    }
  }
  return out;
}

/**
 * The entries to add to the sync: enrolled externals, then one `tags` entry per upstream repository for the base
 * tags no existing entry selects, then one `digest` entry per pinned digest not already mirrored. A new entry goes
 * to the target repository an existing entry of the same source uses, so one upstream keeps one mirror.
 */
export function basesSyncEntries(
  discovery: { enrollment: Enrollment; graph: BaseGraph },
  sync: SyncContext,
  options: EntryOptions = {},
): ImageEntry[] {
  const { enrollment, graph } = discovery;
  const externals = externalEntries(enrollment, sync, options);
  const existing = [...sync.images, ...(sync.serviceConfigs ?? []), ...externals];
  const added: ImageEntry[] = [];
  const origin = (line: number): ConfigOrigin => ({
    list: options.originList ?? "bases",
    index: externals.length + added.length,
    line,
  });
  for (const w of wanted(enrollment, graph).values()) {
    const all = [...existing, ...added];
    const sameSource = all.find((e) => repositoryKey(e.source) === repositoryKey(w.source));
    const targetRepo = sameSource?.target.repository ?? targetRepository(sync, w.source.repository);
    const tags = w.tags.filter((tag) => !all.some((e) => covers(e, w.source, { tag })));
    if (tags.length > 0) added.push(entryFor(sync, w.source, targetRepo, { kind: "tags", tags }, origin(w.line)));
    for (const digest of w.digests) {
      if (all.some((e) => covers(e, w.source, { digest }))) continue;
      added.push(entryFor(sync, w.source, targetRepo, { kind: "digest", digest }, origin(w.line)));
    }
  }
  return [...externals, ...added];
}

/**
 * The ImageStatus key (`registry/repository:tag`) where the sync records a base's upstream digest, given the entries
 * the sync runs with (its own plus `basesSyncEntries`). Undefined for a base the sync does not mirror.
 */
export function statusKeyOf(base: GraphBase, entries: readonly ImageEntry[]): string | undefined {
  if (base.tag === undefined) return undefined;
  if (base.inTarget) return `${base.registry}/${base.repository}:${base.tag}`;
  const source = upstreamOf(base);
  if (!source) return undefined;
  const entry = entries.find((e) => covers(e, source, { tag: base.tag! }));
  return entry ? `${entry.target.registry}/${entry.target.repository}:${base.tag}` : undefined;
}
