import semver from "semver";
import { TagFilter, TagRule } from "./configTypes";
import { isSha256Digest } from "./imageRef";
import { compareText, newestFirst, semverOfTag } from "./tagOrder";

/** A per-tag fact the caller fetched (digest from a HEAD, creation time from an image config). */
export type Lookup<T> = ReadonlyMap<string, T> | ((tag: string) => T | undefined);

export interface TagFacts {
  /** Digest per tag; `follow` needs it for the moving tag and its candidate siblings. */
  digests?: Lookup<string>;
  /** Creation time per tag; `newest` with `order: created` needs it for every candidate. */
  created?: Lookup<Date>;
}

/** One thing to mirror: a source tag or digest, and the tag it gets in the target repository. */
export type Selection =
  | { kind: "tag"; sourceTag: string; targetTag: string; digest?: string }
  | { kind: "digest"; digest: string; targetTag: string };

export type SelectionWarningCode =
  "no-match" | "follow-tag-missing" | "follow-digest-unknown" | "no-sibling" | "created-unknown";

export interface SelectionWarning {
  code: SelectionWarningCode;
  message: string;
}

export interface SelectionResult {
  selections: Selection[];
  warnings: SelectionWarning[];
}

export interface LookupsNeeded {
  digests: string[];
  created: string[];
}

// Arch-prefixed tags point at one platform's image, which can share a digest with a child of the multi-arch tag;
// mirroring one in place of the multi-arch image is RunWhen's old "wrong pick".
const ARCH_PREFIX =
  /^(?:amd64|arm64|arm64v8|arm32v[5-7]|armv[5-7]|armhf|arm|386|i386|x86_64|aarch64|s390x|ppc64le|riscv64|mips64le|loong64)-/;

// Cosign signature, attestation and SBOM tags are artefacts about an image, not images; they travel with it (a later
// option) and are never candidates themselves, as in Flux's default exclusion list.
const COSIGN_TAG = /^sha256-[a-f0-9]{64}\.(?:sig|att|sbom)$/;

export function isArchPrefixed(tag: string): boolean {
  return ARCH_PREFIX.test(tag);
}

function look<T>(lookup: Lookup<T> | undefined, tag: string): T | undefined {
  if (!lookup) return undefined;
  return typeof lookup === "function" ? lookup(tag) : lookup.get(tag);
}

function unique(tags: readonly string[]): string[] {
  return [...new Set(tags)];
}

function passes(filter: TagFilter, tag: string): boolean {
  if (filter.deny?.regex.test(tag)) return false;
  return filter.allow ? filter.allow.regex.test(tag) : true;
}

/** Tags a list-driven rule may choose from: real images that pass the filter. */
function candidates(tags: readonly string[], filter: TagFilter): string[] {
  return unique(tags).filter((tag) => !COSIGN_TAG.test(tag) && passes(filter, tag));
}

function followCandidates(rule: Extract<TagRule, { kind: "follow" }>, tags: readonly string[]): string[] {
  return unique(tags)
    .filter((tag) => tag !== rule.tag && !isArchPrefixed(tag) && !COSIGN_TAG.test(tag) && rule.sibling.regex.test(tag))
    .sort(compareText);
}

function sameTag(tags: readonly string[]): Selection[] {
  return tags.map((tag) => ({ kind: "tag", sourceTag: tag, targetTag: tag }));
}

export function digestTag(digest: string): string {
  if (!isSha256Digest(digest)) throw new RangeError(`not a sha256 digest: "${digest}"`);
  return digest.slice("sha256:".length);
}

/**
 * The dated, content-addressed pin tag written beside the mirrored tag (ci-images-mirror's scheme), so an overwrite or
 * a prune never drops the digest that was running. The date is UTC so every run on one day writes the same name,
 * which makes re-mirroring idempotent.
 */
export function pinTagFor(digest: string, date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError("invalid date for pin tag");
  const day = date.toISOString().slice(0, 10).replaceAll("-", "");
  return `${day}_sha256_${digestTag(digest)}`;
}

/** A tag that is moved to each new build: `latest` or `<ref>-latest`. */
export function isMovingTag(tag: string): boolean {
  return tag === "latest" || tag.endsWith("-latest");
}

/** RunWhen's DATE_TAG (`date +%Y%m%d%H%M%S`, UTC): the immutable tag written beside a moving one (`dateTag`). */
export function dateTagFor(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError("invalid date for date tag");
  return date.toISOString().slice(0, 19).replace(/[-T:]/g, "");
}

/** Whether the rule needs the upstream tag list; `tags` and digest pins cost no listing request. */
export function needsTagList(rule: TagRule): boolean {
  if (rule.kind === "any") return rule.rules.some(needsTagList);
  return rule.kind !== "tags" && rule.kind !== "digest";
}

/**
 * Which per-tag facts `selectTags` will ask for, so the planner fetches exactly those (each is a request upstream,
 * and the created time is two) and nothing for tags the rule has already ruled out.
 */
export function lookupsNeeded(rule: TagRule, tags: readonly string[]): LookupsNeeded {
  if (rule.kind === "any") {
    const each = rule.rules.map((r) => lookupsNeeded(r, tags));
    return { digests: unique(each.flatMap((n) => n.digests)), created: unique(each.flatMap((n) => n.created)) };
  }
  if (rule.kind === "follow") {
    return { digests: tags.includes(rule.tag) ? [rule.tag, ...followCandidates(rule, tags)] : [], created: [] };
  }
  if (rule.kind === "newest" && rule.order === "created") return { digests: [], created: candidates(tags, rule) };
  return { digests: [], created: [] };
}

function noMatch(selections: Selection[], what: string, total: number): SelectionResult {
  const warnings: SelectionWarning[] =
    selections.length === 0 ? [{ code: "no-match", message: `no tag matches ${what} among ${total} tags` }] : [];
  return { selections, warnings };
}

function selectFollow(
  rule: Extract<TagRule, { kind: "follow" }>,
  tags: readonly string[],
  facts: TagFacts,
): SelectionResult {
  if (!tags.includes(rule.tag)) {
    return { selections: [], warnings: [{ code: "follow-tag-missing", message: `tag "${rule.tag}" not found` }] };
  }
  const digest = look(facts.digests, rule.tag);
  if (digest === undefined) {
    const message = `digest of "${rule.tag}" unknown`;
    return { selections: [], warnings: [{ code: "follow-digest-unknown", message }] };
  }
  const siblings = followCandidates(rule, tags);
  // Sorted candidates make the pick stable when several immutable tags share the digest (a rebuild, a long hash).
  const match = siblings.find((tag) => look(facts.digests, tag) === digest);
  if (match === undefined) {
    const message =
      `no tag matching ${rule.sibling.source} shares ${rule.tag}'s digest ${digest} ` +
      `(${siblings.length} candidates, arch-prefixed tags excluded)`;
    return { selections: [], warnings: [{ code: "no-sibling", message }] };
  }
  // Compared per platform, the digests are children: the sibling's own (root) digest is looked up when planning.
  return {
    selections: [{ kind: "tag", sourceTag: match, targetTag: match, ...(rule.platform ? {} : { digest }) }],
    warnings: [],
  };
}

function selectNewest(
  rule: Extract<TagRule, { kind: "newest" }>,
  tags: readonly string[],
  facts: TagFacts,
): SelectionResult {
  const pool = candidates(tags, rule);
  const createdOf = (tag: string) => look(facts.created, tag);
  const ranked = newestFirst(rule.order, pool, createdOf);
  const result = noMatch(sameTag(ranked.slice(0, rule.count)), `${rule.order} order`, tags.length);
  if (rule.order === "created" && ranked.length < pool.length) {
    const missing = pool.length - ranked.length;
    result.warnings.push({ code: "created-unknown", message: `${missing} candidate tags have no known created time` });
  }
  return result;
}

/**
 * Applies a tag rule to the upstream tag list. Pure: the facts a rule needs (see `lookupsNeeded`) are passed in.
 * Selections are deterministic: newest first for ordered rules, code-unit order otherwise. Rules that name their
 * tags (`tags`, digest pins) ignore the list, so a vanished tag reaches the planner and is reported `source-missing`.
 */
export function selectTags(rule: TagRule, upstreamTags: readonly string[], facts: TagFacts = {}): SelectionResult {
  switch (rule.kind) {
    case "tags":
      return { selections: sameTag(rule.tags), warnings: [] };
    case "digest":
      return { selections: [{ kind: "digest", digest: rule.digest, targetTag: digestTag(rule.digest) }], warnings: [] };
    case "semver": {
      const inRange = candidates(upstreamTags, {}).filter((tag) => {
        const version = semverOfTag(tag);
        return version !== undefined && semver.satisfies(version, rule.range, { includePrerelease: rule.prerelease });
      });
      const ranked = newestFirst("semver", inRange);
      const chosen = rule.newest === undefined ? ranked : ranked.slice(0, rule.newest);
      return noMatch(sameTag(chosen), `semver "${rule.range}"`, upstreamTags.length);
    }
    case "filter": {
      const what = [rule.allow && `allow ${rule.allow.source}`, rule.deny && `deny ${rule.deny.source}`];
      const chosen = candidates(upstreamTags, rule).sort(compareText);
      return noMatch(sameTag(chosen), what.filter(Boolean).join(" and "), upstreamTags.length);
    }
    case "newest":
      return selectNewest(rule, upstreamTags, facts);
    case "follow":
      return selectFollow(rule, upstreamTags, facts);
    case "any":
      return selectAny(rule, upstreamTags, facts);
  }
}

/** Every rule's selections, each target tag once (the first rule that picks it wins); every rule's warnings. */
function selectAny(
  rule: Extract<TagRule, { kind: "any" }>,
  upstreamTags: readonly string[],
  facts: TagFacts,
): SelectionResult {
  const selections: Selection[] = [];
  const warnings: SelectionWarning[] = [];
  rule.rules.forEach((inner, index) => {
    const result = selectTags(inner, upstreamTags, facts);
    for (const s of result.selections) if (!selections.some((x) => x.targetTag === s.targetTag)) selections.push(s);
    for (const w of result.warnings) warnings.push({ ...w, message: `rules[${index}]: ${w.message}` });
  });
  return { selections, warnings };
}
