/**
 * The plan: for every (source tag or digest → target tag) one state, decided by digest. A run where nothing changed
 * costs one HEAD per tag on each side, and no GET; a tag this tool itself wrote with the same digest is trusted
 * without a target HEAD unless the run verifies.
 */
import type { RegistryClient } from "../registry/client";
import { mapSettled } from "../registry/limiter";
import { filterIndex } from "../registry/platforms";
import type { ImageStatus } from "../store/syncStore";
import type { ImageEntry, SyncConfig } from "./configTypes";
import type { PlanItem } from "./model";
import type { RateBudget } from "./rateBudget";
import { lookupsNeeded, needsTagList, pinTagFor, selectTags, type Selection } from "./tagRules";

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
}

export interface Plan {
  items: PlanItem[];
  warnings: string[];
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function planSync(client: RegistryClient, config: SyncConfig, options: PlanOptions = {}): Promise<Plan> {
  const warnings: string[] = [];
  // A source host that failed (unreachable, auth) is not asked again in this run: its other images are reported.
  const failedHosts = new Map<string, string>();
  const entries = [...config.images, ...config.serviceConfigs];
  const planned = await mapSettled(entries, options.concurrency ?? 8, (entry) =>
    planEntry(client, entry, options, failedHosts, warnings),
  );
  const items: PlanItem[] = [];
  planned.forEach((p, i) => {
    if (p.status === "fulfilled") items.push(...p.value);
    else items.push(entryError(entries[i]!, errorText(p.reason)));
  });
  return { items, warnings };
}

function origin(entry: ImageEntry): string {
  return `${entry.origin.list}[${entry.origin.index}] (line ${entry.origin.line})`;
}

function entryError(entry: ImageEntry, reason: string): PlanItem {
  return {
    key: `${entry.target.registry}/${entry.target.repository}:*`,
    source: { registry: entry.source.registry, repository: entry.source.repository },
    target: { ...entry.target, tag: "*" },
    state: "error",
    reason,
    origin: origin(entry),
  };
}

async function planEntry(
  client: RegistryClient,
  entry: ImageEntry,
  options: PlanOptions,
  failedHosts: Map<string, string>,
  warnings: string[],
): Promise<PlanItem[]> {
  const { registry, repository } = entry.source;
  const skip = failedHosts.get(registry);
  if (skip) return [entryError(entry, `skipped: ${registry} failed earlier in this run (${skip})`)];
  const budget = options.rateBudget;
  const headCache = new Map<string, Promise<string | undefined>>();
  const sourceDigest = (tag: string) => {
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
  let selections: Selection[];
  try {
    budget?.check(registry);
    const tags = needsTagList(entry.rule) ? await client.tagList(registry, repository) : [];
    const needed = lookupsNeeded(entry.rule, tags);
    const digests = new Map<string, string>();
    for (const tag of needed.digests) {
      const d = await sourceDigest(tag);
      if (d) digests.set(tag, d);
    }
    const selected = selectTags(entry.rule, tags, { digests });
    for (const w of selected.warnings) warnings.push(`${origin(entry)} ${registry}/${repository}: ${w.message}`);
    selections = selected.selections;
  } catch (err) {
    if ((err as { status?: number }).status !== 404) failedHosts.set(registry, errorText(err));
    return [entryError(entry, errorText(err))];
  }
  const items: PlanItem[] = [];
  for (const sel of selections) items.push(await planSelection(client, entry, sel, sourceDigest, options));
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
): Promise<string> {
  if (entry.platforms === "all") return sourceDigest;
  if (known?.writtenDigest && known.sourceDigest === sourceDigest) return known.writtenDigest;
  const root = await client.manifestGet(entry.source.registry, entry.source.repository, sourceDigest);
  return filterIndex(root, entry.platforms).digest;
}

async function planSelection(
  client: RegistryClient,
  entry: ImageEntry,
  sel: Selection,
  sourceDigest: (tag: string) => Promise<string | undefined>,
  options: PlanOptions,
): Promise<PlanItem> {
  const target = { ...entry.target, tag: sel.targetTag };
  const key = `${target.registry}/${target.repository}:${target.tag}`;
  const item: PlanItem = {
    key,
    source: { ...entry.source, ...(sel.kind === "tag" ? { tag: sel.sourceTag } : {}) },
    target,
    state: "error",
    origin: origin(entry),
  };
  try {
    const digest = sel.kind === "digest" ? sel.digest : (sel.digest ?? (await sourceDigest(sel.sourceTag)));
    if (!digest) {
      item.state = "source-missing";
      item.reason = `${entry.source.registry}/${entry.source.repository}:${sel.kind === "tag" ? sel.sourceTag : ""} not found upstream`;
      return item;
    }
    item.sourceDigest = digest;
    if (entry.pinTag) item.pinTag = pinTagFor(digest, options.now?.() ?? new Date());
    if (entry.platforms !== "all") item.platforms = entry.platforms;
    const known = options.status?.get(key);
    if (!options.verifyTarget && known?.state === "in-sync" && known.writtenDigest && known.sourceDigest === digest) {
      item.targetDigest = known.writtenDigest;
      if (known.writtenDigest !== digest) item.wantDigest = known.writtenDigest;
      item.state = "in-sync";
      item.reason = "trusted: this tool wrote this digest to the tag";
      return item;
    }
    const head = await client.manifestHead(target.registry, target.repository, target.tag);
    if (head) item.targetDigest = head.digest;
    if (!head) {
      // A digest pin is immutable: absent at the target means missing, and the source is only asked when copying.
      item.state = "missing";
    } else {
      const want = await expectedTargetDigest(client, entry, digest, known);
      if (want !== digest) item.wantDigest = want;
      item.state = head.digest === want ? "in-sync" : "drifted";
    }
  } catch (err) {
    item.state = "error";
    item.reason = errorText(err);
  }
  return item;
}
