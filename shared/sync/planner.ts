/**
 * The plan: for every (source tag or digest → target tag) one state, decided by digest. A run where nothing changed
 * costs one HEAD per tag on each side, and no GET; a tag this tool itself wrote with the same digest is trusted
 * without a target HEAD unless the run verifies. With a bulk lister (shared/acr), a registry that lists tags with
 * their digests (ACR, quay.io, Artifact Registry; a port, see ports.ts) costs one request per page of a repository instead, and the
 * target is verified on every run for free. A drifted tag that ACR has locked is reported, never forced.
 */
import type { Manifest, RegistryClient } from "../registry/client";
import { RegistryError } from "../registry/transport";
import { mapSettled } from "../registry/limiter";
import { isIndexType, type Platform } from "../registry/manifest";
import { filterIndex, formatPlatform, platformMatches } from "../registry/platforms";
import type { ImageStatus } from "../store/syncStore";
import type { ImageEntry, SyncConfig } from "./configTypes";
import type { PlanItem } from "./model";
import type { LockState, TagDigestLister } from "./ports";
import type { RateBudget } from "./rateBudget";
import { platformDigest } from "./platformDigest";
import {
  dateTagFor,
  isMovingTag,
  lookupsNeeded,
  needsTagList,
  pinTagFor,
  selectTags,
  type Selection,
} from "./tagRules";
import { supplyStep } from "./supplyStep";
import { TrustResolver } from "../supply/trust";

export interface PlanOptions {
  /** Latest status per `registry/repository:tag`, from the store. */
  status?: ReadonlyMap<string, ImageStatus>;
  /** HEAD every target tag this run, trusting nothing. */
  verifyTarget?: boolean;
  now?: () => Date;
  /** Entries planned at once. */
  concurrency?: number;
  /** Upstream pull quota kept in reserve; a host at its reserve is skipped. */
  rateBudget?: RateBudget;
  /**
   * Tag → digest for a whole repository (a port: shared/acr `createTagDigestLister`). A map answers for every tag of that
   * repository (a tag absent from it does not exist); `undefined` sends the planner back to one HEAD per tag.
   * Each repository is listed once per plan.
   */
  lister?: TagDigestLister;
  /** ACR locks: a drifted target tag whose manifest is write-protected is marked `locked`, and never copied. */
  locks?: LockState;
  /** Keys for `verify` policies (Key Vault secrets need one with a SecretProvider); default: PEM keys only. */
  trust?: TrustResolver;
  /**
   * The time budget (shared/sync/budget.ts): entries are planned in order from `startEntry` (wrapping around), and no
   * entry is started once `deadline` (epoch ms, read with `now`) has passed. The first entry is always planned, so
   * every run moves the rotation on.
   */
  startEntry?: number;
  deadline?: number;
  /**
   * The previous run died mid-run (its lease was taken over): it may have left blobs in repositories the store
   * does not know yet, so no target repository is listed as new, and every tag is asked for.
   */
  recovering?: boolean;
  /**
   * The run copies in this process: a tag the target is known to lack (a listing said so) is read upstream with one
   * GET now, which the copy then uses, instead of a HEAD now and the same GET later (`Plan.prefetched`). Off for a
   * plan alone, a report, and queue mode, where a GET now would be a second pull.
   */
  prefetchMissing?: boolean;
}

export const LOCKED_REASON = "locked in ACR: drift reported, not forced";

export interface Plan {
  items: PlanItem[];
  warnings: string[];
  /** Entries of the config (images, then service configs) the plan started, in the order it started them. */
  reached: number[];
  /** The config entry each item came from (parallel to `items`). */
  entryOfItem: number[];
  /** Where the next run starts: the first entry this plan did not reach, or, when it reached all, `startEntry`. */
  nextEntry: number;
  /** How many entries the deadline left unplanned. */
  notReached: number;
  /** Source manifests read while planning (`prefetchMissing`), for the copies of these items. */
  prefetched: Map<PlanItem, Manifest>;
}

/** What planSync hands its entries beyond the caller's options. */
type EntryOptions = PlanOptions & { prefetched?: Map<PlanItem, Manifest>; targetNames?: TargetNames };

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function planSync(client: RegistryClient, config: SyncConfig, options: PlanOptions = {}): Promise<Plan> {
  const warnings: string[] = [];
  // A source host that failed (unreachable, auth) is not asked again in this run: its other images are reported.
  const failedHosts = new Map<string, string>();
  const entries = [...config.images, ...config.serviceConfigs];
  const prefetched = new Map<PlanItem, Manifest>();
  const listNewTargets = !options.lister && options.status && !options.recovering;
  const opts: EntryOptions = {
    ...options,
    ...(options.lister ? { lister: oncePerRepository(options.lister) } : {}),
    trust: options.trust ?? new TrustResolver(),
    ...(options.prefetchMissing ? { prefetched } : {}),
    ...(listNewTargets ? { targetNames: targetTagNames(client, options.status!) } : {}),
  };
  const noApi = new Set<string>();
  const tagLists = new Map<string, Promise<ReadonlySet<string>>>();
  const start = entries.length ? (((options.startEntry ?? 0) % entries.length) + entries.length) % entries.length : 0;
  const order = entries.map((_, k) => (start + k) % entries.length);
  const nowMs = () => (options.now?.() ?? new Date()).getTime();
  // The limiter starts entries in order, so the entries reached are a prefix of `order`.
  let stopped = false;
  const planned = await mapSettled(order, options.concurrency ?? 8, (index, k) => {
    if (k > 0 && options.deadline !== undefined && (stopped || nowMs() >= options.deadline)) {
      stopped = true;
      return Promise.resolve(undefined);
    }
    return planEntry(client, entries[index]!, config.file, opts, failedHosts, warnings, { noApi, tagLists });
  });
  const items: PlanItem[] = [];
  const entryOfItem: number[] = [];
  const reached: number[] = [];
  planned.forEach((p, k) => {
    const index = order[k]!;
    if (p.status === "fulfilled" && p.value === undefined) return;
    reached.push(index);
    const got = p.status === "fulfilled" ? p.value! : [entryError(entries[index]!, config.file, errorText(p.reason))];
    for (const item of got) {
      items.push(item);
      entryOfItem.push(index);
    }
  });
  const notReached = entries.length - reached.length;
  return {
    items,
    warnings,
    entryOfItem,
    reached,
    nextEntry: notReached ? order[reached.length]! : start,
    notReached,
    prefetched,
  };
}

/** Reads a target repository's tag names, once per plan; `undefined` where the store already knows the repository. */
type TargetNames = (registry: string, repository: string) => Promise<ReadonlySet<string> | undefined>;

/**
 * In a run with a store, a target repository the store has no row for (a first sync, a new entry) is listed once
 * instead of HEADed per tag (without a store nothing tells a first sync from a rerun, and tags are HEADed): a tag
 * not in the list is missing without a request, and an empty or absent repository (404) tells the copy that nothing
 * of it is there yet. A repository the store knows keeps one HEAD per untrusted tag, which a no-change
 * run needs anyway. A listing that fails sends the planner back to HEADs. A listing that lags behind a push only costs
 * a rewrite of the same bytes: the copy writes a tag whose content it has just put in place.
 */
function targetTagNames(client: RegistryClient, status: NonNullable<PlanOptions["status"]>): TargetNames {
  const known = new Set<string>();
  for (const key of status.keys()) known.add(key.slice(0, key.lastIndexOf(":")));
  const lists = new Map<string, Promise<ReadonlySet<string> | undefined>>();
  return (registry, repository) => {
    const key = `${registry}/${repository}`;
    if (known.has(key)) return Promise.resolve(undefined);
    let p = lists.get(key);
    if (!p) {
      p = client.tagList(registry, repository).then(
        (tags) => new Set(tags),
        (err: unknown) => ((err as { status?: number }).status === 404 ? new Set<string>() : undefined),
      );
      lists.set(key, p);
    }
    return p;
  };
}

/** One listing per repository per plan, however many entries share it (the ACR catalog caches too; quay and GAR do not). */
function oncePerRepository(lister: TagDigestLister): TagDigestLister {
  const seen = new Map<string, Promise<Map<string, string> | undefined>>();
  return {
    list(registry, repository) {
      const key = `${registry}/${repository}`;
      let p = seen.get(key);
      if (!p) {
        p = lister.list(registry, repository);
        // A listing that threw is not remembered (the composite lister never throws; a bare one might).
        p.catch(() => seen.delete(key));
        seen.set(key, p);
      }
      return p;
    },
  };
}

/**
 * `sync.yaml:4 images[1]`: file and line, the way editors and CI logs jump to a place. Entries discovered from a
 * base-image enrollment point into that file, which the sync config does not name, so they keep their list and line.
 * Entries read from a declared source describe their own origin (file and line, or config path, commit, environment).
 */
export function origin(entry: ImageEntry, file = ""): string {
  if (entry.origin.described) return entry.origin.described;
  const { list, index, line } = entry.origin;
  return list === "bases" || !file ? `${list}[${index}] (line ${line})` : `${file}:${line} ${list}[${index}]`;
}

function entryError(entry: ImageEntry, file: string, reason: string): PlanItem {
  return {
    key: `${entry.target.registry}/${entry.target.repository}:*`,
    source: { registry: entry.source.registry, repository: entry.source.repository },
    target: { ...entry.target, tag: "*" },
    state: "error",
    reason,
    origin: origin(entry, file),
  };
}

async function planEntry(
  client: RegistryClient,
  entry: ImageEntry,
  file: string,
  options: EntryOptions,
  failedHosts: Map<string, string>,
  warnings: string[],
  supply: { noApi: Set<string>; tagLists: Map<string, Promise<ReadonlySet<string>>> } = {
    noApi: new Set(),
    tagLists: new Map(),
  },
): Promise<PlanItem[]> {
  const { registry, repository } = entry.source;
  const skip = failedHosts.get(registry);
  if (skip) return [entryError(entry, file, `skipped: ${registry} failed earlier in this run (${skip})`)];
  const budget = options.rateBudget;
  const headCache = new Map<string, Promise<string | undefined>>();
  // The source's bulk listing, when its registry has one: every tag's digest without a HEAD.
  let listed: Map<string, string> | undefined;
  const sourceDigest = (tag: string) => {
    if (listed) return Promise.resolve(listed.get(tag));
    let p = headCache.get(tag);
    if (!p) {
      p = (async () => {
        budget?.check(registry);
        const head = await client.manifestHead(registry, repository, tag);
        budget?.observe(registry, head?.rateLimit);
        return head?.digest;
      })();
      headCache.set(tag, p);
    }
    return p;
  };
  // A GET in place of the HEAD, for a tag the target lacks: the copy needs these bytes anyway.
  const sourceManifest = async (tag: string): Promise<Manifest | undefined> => {
    budget?.check(registry);
    const m = await client.manifestGet(registry, repository, tag).catch((err: unknown) => {
      if (err instanceof RegistryError && err.status === 404) return undefined;
      throw err;
    });
    budget?.observe(registry, m?.rateLimit);
    headCache.set(tag, Promise.resolve(m?.digest));
    return m;
  };
  const prefetchable = (tag: string) => !listed && !headCache.has(tag);
  let selections: Selection[];
  try {
    budget?.check(registry);
    // A digest pin asks the source nothing at plan time, so it needs no listing either.
    if (entry.rule.kind !== "digest") listed = await options.lister?.list(registry, repository);
    const tags = !needsTagList(entry.rule)
      ? []
      : listed
        ? [...listed.keys()].sort()
        : await client.tagList(registry, repository);
    const needed = lookupsNeeded(entry.rule, tags);
    const digests = new Map<string, string>();
    const followPlatform = entry.rule.kind === "follow" ? entry.rule.platform : undefined;
    for (const tag of needed.digests) {
      // RunWhen compares one architecture's digest: one manifest GET per candidate instead of a HEAD.
      const d = followPlatform
        ? await platformDigest(client, registry, repository, tag, followPlatform, budget)
        : await sourceDigest(tag);
      if (d) digests.set(tag, d);
    }
    const selected = selectTags(entry.rule, tags, { digests });
    for (const w of selected.warnings) warnings.push(`${origin(entry, file)} ${registry}/${repository}: ${w.message}`);
    selections = selected.selections;
  } catch (err) {
    if ((err as { status?: number }).status !== 404) failedHosts.set(registry, errorText(err));
    return [entryError(entry, file, errorText(err))];
  }
  // The target's listing, at most once per entry (and once per repository per plan), read when a selected tag needs
  // the target (or, to prefetch, before its source is asked): no per-tag HEAD. `undefined`: HEAD the target tags.
  let targetListing: Promise<TargetRead | undefined> | undefined;
  const targetTags = () =>
    (targetListing ??= options.lister
      ? options.lister
          .list(entry.target.registry, entry.target.repository)
          .then((tags) => (tags ? { digests: tags } : undefined))
          .catch(() => undefined)
      : (options.targetNames?.(entry.target.registry, entry.target.repository) ?? Promise.resolve(undefined)).then(
          (names) => (names ? { names } : undefined),
        ));
  const items: PlanItem[] = [];
  for (const sel of selections) {
    const item = await planSelection(
      client,
      entry,
      file,
      sel,
      { digest: sourceDigest, manifest: sourceManifest, prefetchable },
      options,
      targetTags,
      (w) => warnings.push(`${origin(entry, file)} ${w}`),
    );
    if (item && (entry.referrers || entry.verify)) {
      await supplyStep(client, entry, item, {
        trust: options.trust ?? new TrustResolver(),
        ...supply,
        ...(options.status ? { status: options.status } : {}),
      });
    }
    if (item) items.push(item);
  }
  // A listing rule's new tag beside tags already mirrored is "newer-available", not a plain "missing".
  if (needsTagList(entry.rule) && items.some((i) => i.state === "in-sync" || i.state === "drifted")) {
    for (const item of items) if (item.state === "missing") item.state = "newer-available";
  }
  return items;
}

/**
 * The digest the target tag should hold: the source digest, or, when the entry copies only some platforms, the
 * digest of the filtered index. That one is known from our own status when we wrote it for this source digest, and
 * computed from the source index (one GET) otherwise.
 */
async function expectedTargetDigest(
  client: RegistryClient,
  entry: ImageEntry,
  sourceDigest: string,
  known: ImageStatus | undefined,
  root: Manifest | undefined,
): Promise<string> {
  if (entry.platforms === "all") return sourceDigest;
  if (known?.writtenDigest && known.sourceDigest === sourceDigest) return known.writtenDigest;
  root ??= await client.manifestGet(entry.source.registry, entry.source.repository, sourceDigest);
  return filterIndex(root, entry.platforms).digest;
}

/** An image config is small; a larger one is not an image config we can read a platform from. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** The platform a single-platform image declares in its config blob (`os`, `architecture`, `variant`). */
async function imagePlatform(client: RegistryClient, entry: ImageEntry, root: Manifest): Promise<Platform | undefined> {
  const config = root.parsed.config;
  if (!config || config.size > MAX_CONFIG_BYTES) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of await client.blobGet(
    entry.source.registry,
    entry.source.repository,
    config.digest,
    config.size,
  ))
    chunks.push(chunk as Buffer);
  const doc = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<Record<string, unknown>>;
  if (typeof doc.os !== "string" || typeof doc.architecture !== "string") return undefined;
  return {
    os: doc.os,
    architecture: doc.architecture,
    ...(typeof doc.variant === "string" ? { variant: doc.variant } : {}),
  };
}

/**
 * With a platform list: the source manifest, or why nothing of it would be copied. An index none of whose children
 * match, or a single-platform image of another platform, is not copied at all (copying it would mirror exactly what
 * the filter was written to leave out).
 */
async function platformCheck(
  client: RegistryClient,
  entry: ImageEntry,
  platforms: readonly Platform[],
  digest: string,
): Promise<{ root: Manifest; nothing?: string }> {
  const root = await client.manifestGet(entry.source.registry, entry.source.repository, digest);
  const wanted = platforms.map(formatPlatform).join(", ");
  if (isIndexType(root.mediaType)) {
    const children = root.parsed.manifests;
    if (children.some((m) => platforms.some((p) => platformMatches(p, m.platform)))) return { root };
    const have = children.map((m) => (m.platform ? formatPlatform(m.platform) : "?")).join(", ");
    return { root, nothing: `no platform of the index matches ${wanted} (it has ${have || "none"})` };
  }
  const platform = await imagePlatform(client, entry, root);
  if (platform && platforms.some((p) => platformMatches(p, platform))) return { root };
  return {
    root,
    nothing: `a single-platform image (${platform ? formatPlatform(platform) : "platform unknown"}) matches none of ${wanted}`,
  };
}

/** What a plan read of a target repository at once: tags with digests (a bulk lister), or tag names only. */
type TargetRead = { digests: ReadonlyMap<string, string> } | { names: ReadonlySet<string> };

async function planSelection(
  client: RegistryClient,
  entry: ImageEntry,
  file: string,
  sel: Selection,
  source: {
    digest: (tag: string) => Promise<string | undefined>;
    manifest: (tag: string) => Promise<Manifest | undefined>;
    /** Not yet asked (a HEAD in flight or done, or a listing, makes a GET now a second request). */
    prefetchable: (tag: string) => boolean;
  },
  options: EntryOptions,
  targetListing: () => Promise<TargetRead | undefined>,
  warn: (message: string) => void,
): Promise<PlanItem | undefined> {
  const target = { ...entry.target, tag: sel.targetTag };
  const key = `${target.registry}/${target.repository}:${target.tag}`;
  const item: PlanItem = {
    key,
    source: { ...entry.source, ...(sel.kind === "tag" ? { tag: sel.sourceTag } : {}) },
    target,
    state: "error",
    origin: origin(entry, file),
  };
  try {
    let digest: string | undefined;
    if (sel.kind === "digest") digest = sel.digest;
    else if (sel.digest) digest = sel.digest;
    else if (options.prefetched && entry.platforms === "all" && source.prefetchable(sel.sourceTag)) {
      const read = await targetListing();
      const lacks = read && !("digests" in read ? read.digests.has(target.tag) : read.names.has(target.tag));
      if (lacks) {
        const m = await source.manifest(sel.sourceTag);
        if (m) options.prefetched.set(item, m);
        digest = m?.digest;
      } else digest = await source.digest(sel.sourceTag);
    } else digest = await source.digest(sel.sourceTag);
    if (!digest) {
      item.state = "source-missing";
      item.reason = `${entry.source.registry}/${entry.source.repository}:${sel.kind === "tag" ? sel.sourceTag : ""} not found upstream`;
      return item;
    }
    item.sourceDigest = digest;
    const movingSource = sel.kind === "tag" && isMovingTag(sel.sourceTag);
    if (entry.dateTag && movingSource) item.pinTag = dateTagFor(options.now?.() ?? new Date());
    else if (entry.pinTag) item.pinTag = pinTagFor(digest, options.now?.() ?? new Date());
    if (entry.platforms !== "all") item.platforms = entry.platforms;
    const known = options.status?.get(key);
    // Trusted as written for this source digest: the filter matched when it was copied, and the source is immutable.
    const trustedFilter = known?.writtenDigest !== undefined && known.sourceDigest === digest;
    let root: Manifest | undefined;
    if (entry.platforms !== "all" && !trustedFilter) {
      const check = await platformCheck(client, entry, entry.platforms, digest);
      if (check.nothing) {
        warn(
          `${entry.source.registry}/${entry.source.repository}:${sel.kind === "tag" ? sel.sourceTag : digest}: ${check.nothing}; not copied`,
        );
        return undefined;
      }
      root = check.root;
    }
    const targetTags = await targetListing();
    let current: string | undefined;
    if (targetTags && "digests" in targetTags) {
      // The listing already read the target: verification costs nothing, so nothing is taken on trust.
      current = targetTags.digests.get(target.tag);
    } else if (targetTags) {
      if (targetTags.names.size === 0) item.targetRepositoryEmpty = true;
      if (targetTags.names.has(target.tag)) {
        current = (await client.manifestHead(target.registry, target.repository, target.tag))?.digest;
      }
    } else {
      if (!options.verifyTarget && known?.state === "in-sync" && known.writtenDigest && known.sourceDigest === digest) {
        item.targetDigest = known.writtenDigest;
        if (known.writtenDigest !== digest) item.wantDigest = known.writtenDigest;
        item.state = "in-sync";
        item.reason = "trusted: this tool wrote this digest to the tag";
        return item;
      }
      current = (await client.manifestHead(target.registry, target.repository, target.tag))?.digest;
    }
    if (current) item.targetDigest = current;
    if (!current) {
      // A digest pin is immutable: absent at the target means missing, and the source is only asked when copying.
      item.state = "missing";
    } else {
      const want = await expectedTargetDigest(client, entry, digest, known, root);
      if (want !== digest) item.wantDigest = want;
      item.state = current === want ? "in-sync" : "drifted";
    }
    if (item.state === "drifted" && options.locks) {
      // A lock state that cannot be read is no lock here: the copier's guard asks again, and ACR refuses anyway.
      const locked = await options.locks
        .lockedDigest(target.registry, target.repository, target.tag)
        .catch(() => undefined);
      if (locked) {
        item.locked = true;
        item.reason = LOCKED_REASON;
      }
    }
  } catch (err) {
    item.state = "error";
    item.reason = errorText(err);
  }
  return item;
}
