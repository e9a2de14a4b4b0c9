/**
 * The retention step of a run: after the copies, prune old pin tags in the run's ACR target repositories through
 * shared/acr/retention.ts, recording every deletion (or, in report mode, what would go). It never fails the run:
 * a repository that cannot be listed is a warning.
 */
import { PIN_TAG, runRetention, type RetentionRecord } from "../acr/retention";
import { acrPredicate, type AcrRunWiring } from "../acr/wiring";
import type { ImageStatus, SyncStore } from "../store/syncStore";
import type { SyncConfig } from "./configTypes";
import type { ImageResult, RetentionCounts } from "./model";

export interface RetentionContext {
  acr: AcrRunWiring | undefined;
  config: SyncConfig;
  reportOnly: boolean;
  store: SyncStore | undefined;
}

export interface RetentionOutcome {
  records: RetentionRecord[];
  counts: RetentionCounts;
}

/**
 * Retention of pin tags in this run's ACR target repositories, after the copies. Report-only runs (and
 * RETENTION_MODE=report) delete nothing and record what would go. A repository that cannot be listed is a warning;
 * retention never fails the run.
 */
export async function retain(
  options: RetentionContext,
  results: readonly ImageResult[],
  status: ReadonlyMap<string, ImageStatus> | undefined,
  runId: string,
  now: () => Date,
  warnings: string[],
): Promise<RetentionOutcome | undefined> {
  const acr = options.acr;
  if (!acr?.catalog || !acr.retention || acr.retention.mode === "off") return undefined;
  const isAcr = acrPredicate(acr);
  const byRegistry = new Map<string, Set<string>>();
  for (const e of [...options.config.images, ...options.config.serviceConfigs]) {
    if (!isAcr(e.target.registry)) continue;
    let repos = byRegistry.get(e.target.registry);
    if (!repos) byRegistry.set(e.target.registry, (repos = new Set()));
    repos.add(e.target.repository);
  }
  if (byRegistry.size === 0) return undefined;
  const mode = options.reportOnly ? "report" : acr.retention.mode;
  const catalog = acr.catalog;
  // Deleting reads every repository afresh; a report may reuse the plan's listing of repositories nothing wrote to.
  if (mode === "delete") catalog.invalidate();
  else {
    for (const r of results) {
      if (r.action === "copied" || r.action === "failed" || r.action === "queued") {
        catalog.invalidate(r.target.registry, r.target.repository);
      }
    }
  }
  // Manifests this tool wrote: its recorded writes, this run's copies, and whatever carries a pin tag (only this
  // tool writes `<date>_sha256_<hex>` tags). Only these may go untagged (RETENTION_DELETE_UNTAGGED).
  const owned = new Set<string>();
  for (const s of status?.values() ?? []) if (s.writtenDigest) owned.add(s.writtenDigest);
  for (const r of results) if (r.action === "copied" && r.targetDigest) owned.add(r.targetDigest);
  const records: RetentionRecord[] = [];
  const store = options.store;
  for (const [registry, repos] of byRegistry) {
    if (acr.retention.policy.deleteUntagged) {
      for (const repository of repos) {
        const snapshot = await catalog.snapshot(registry, repository).catch(() => undefined);
        for (const m of snapshot?.manifests ?? []) if (m.tags.some((t) => PIN_TAG.test(t))) owned.add(m.digest);
      }
    }
    try {
      const run = await runRetention({
        catalog,
        registry,
        repositories: [...repos],
        policy: acr.retention.policy,
        mode,
        ownedDigests: owned,
        now,
        ...(acr.retention.deleter ? { deleter: acr.retention.deleter } : {}),
        record: async (entry) => {
          records.push(entry);
          // A deletion is recorded the moment it happens; the whole list is written again with the run.
          if (mode === "delete" && store && entry.status !== "reported") {
            await store.saveRetention(runId, [entry]).catch((err: unknown) => {
              warnings.push(
                `retention: could not record ${entry.repository} ${entry.tag ?? entry.digest}: ${String(err)}`,
              );
            });
          }
        },
      });
      for (const e of run.errors) warnings.push(`retention: ${registry}/${e.repository} not listed: ${e.error}`);
    } catch (err) {
      warnings.push(`retention: ${registry}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return {
    records,
    counts: {
      mode,
      reported: records.filter((r) => r.status === "reported").length,
      deleted: records.filter((r) => r.status === "deleted").length,
      failed: records.filter((r) => r.status === "failed").length,
    },
  };
}
