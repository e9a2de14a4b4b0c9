/**
 * The planner's supply-chain step, after an item's digest state is known:
 * 1. `verify`: the source digest must carry a signature one of the policy's keys verifies, else the item is
 *    `unverified` and is not copied. A digest verified before with a key still in the policy is not asked again.
 * 2. `referrers`: for an item in sync by digest, the source's referrers (of the root digest) are compared with what
 *    the last copy brought along; any new one makes the item outdated, so the executor copies just the referrers.
 *    Not for platform-filtered entries (their root is a rewritten index nobody signed).
 * Entries with neither cost nothing here.
 */
import type { RegistryClient } from "../registry/client";
import { referrerGraph, referrerSummary } from "../registry/referrers";
import type { ImageStatus } from "../store/syncStore";
import type { TrustResolver } from "../supply/trust";
import { verifyImage } from "../supply/verify";
import type { ImageEntry } from "./configTypes";
import type { PlanItem } from "./model";

export interface SupplyOptions {
  trust: TrustResolver;
  /** Registries without the Referrers API, learned once per run. */
  noApi: Set<string>;
  status?: ReadonlyMap<string, ImageStatus>;
  /**
   * Tag lists per source repository, shared by the run's entries: one list request answers every fallback and cosign
   * tag question of that repository (see bench/referrers.bench.ts for what it saves).
   */
  tagLists?: Map<string, Promise<ReadonlySet<string>>>;
}

const GATED = new Set(["in-sync", "missing", "drifted", "newer-available"]);

export async function supplyStep(
  client: RegistryClient,
  entry: ImageEntry,
  item: PlanItem,
  options: SupplyOptions,
): Promise<void> {
  if (entry.referrers) item.referrers = entry.referrers;
  const digest = item.sourceDigest;
  if (!digest || !GATED.has(item.state)) return;
  const known = options.status?.get(item.key);
  try {
    if (entry.verify) {
      const keys = await options.trust.keysFor(entry.verify);
      const trusted =
        known?.verifiedDigest === digest &&
        known.signedBy !== undefined &&
        keys.some((k) => known.signedBy === `${k.kind} ${k.fingerprint}`);
      if (trusted) {
        item.signedBy = known.signedBy;
      } else {
        const outcome = await verifyImage(client, entry.source, digest, keys, { noApi: options.noApi });
        if (!outcome.verified) {
          item.state = "unverified";
          item.reason = `signature required: ${outcome.reason}`;
          return;
        }
        item.signedBy = `${outcome.scheme} ${outcome.fingerprint}`;
      }
    }
    // A platform-filtered image's root is our own rewritten index: its source root's referrers never come along
    // (referrersStep), so comparing them would re-plan the tag forever. Its children's come along with each copy.
    if (entry.referrers && item.state === "in-sync" && entry.platforms === "all") {
      const lists = options.tagLists ?? new Map<string, Promise<ReadonlySet<string>>>();
      const graph = await referrerGraph(client, entry.source, [digest], {
        noApi: options.noApi,
        tags: (ref) => {
          const key = `${ref.registry}/${ref.repository}`;
          let list = lists.get(key);
          if (!list) {
            list = client.tagList(ref.registry, ref.repository).then((t) => new Set(t));
            list.catch(() => lists.delete(key));
            lists.set(key, list);
          }
          return list;
        },
        ...(entry.referrers.artifactTypes ? { artifactTypes: entry.referrers.artifactTypes } : {}),
      });
      const upstream = referrerSummary(graph);
      item.referrersUpstream = upstream;
      const have = new Set(known?.referrers ?? []);
      const missing = upstream.filter((r) => !have.has(r));
      if (missing.length > 0) {
        item.state = "drifted";
        item.referrersOnly = true;
        item.reason = `${missing.length} referrer(s) upstream not mirrored yet (${missing[0]!.split("@")[0]}…)`;
      }
    }
  } catch (err) {
    item.state = "error";
    item.reason = err instanceof Error ? err.message : String(err);
  }
}
