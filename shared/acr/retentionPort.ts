/**
 * The retention port of the sync (shared/sync/ports.ts) for ACR targets: after the copies, prune old pin tags in the
 * run's ACR target repositories through runRetention, recording every deletion (or, in report mode, what would go).
 * It never fails the run: a repository that cannot be listed is a warning.
 */
import type { RetentionOutcome, RetentionPort, RetentionRecord, RetentionRequest } from "../sync/ports";
import type { AcrCatalog } from "./catalog";
import { PIN_TAG, runRetention, type RetentionDeleter, type RetentionMode, type RetentionPolicy } from "./retention";

export interface AcrRetentionOptions {
  catalog: AcrCatalog;
  isAcr: (registry: string) => boolean;
  mode: RetentionMode;
  policy: RetentionPolicy;
  deleter?: RetentionDeleter;
}

export function acrRetentionPort(options: AcrRetentionOptions): RetentionPort {
  return { retain: (request) => retainInAcr(options, request) };
}

async function retainInAcr(
  options: AcrRetentionOptions,
  request: RetentionRequest,
): Promise<RetentionOutcome | undefined> {
  if (options.mode === "off") return undefined;
  const byRegistry = new Map<string, Set<string>>();
  for (const t of request.targets) {
    if (!options.isAcr(t.registry)) continue;
    let repos = byRegistry.get(t.registry);
    if (!repos) byRegistry.set(t.registry, (repos = new Set()));
    repos.add(t.repository);
  }
  if (byRegistry.size === 0) return undefined;
  const mode = request.reportOnly ? "report" : options.mode;
  const catalog = options.catalog;
  // Deleting reads every repository afresh; a report may reuse the plan's listing of repositories nothing wrote to.
  if (mode === "delete") catalog.invalidate();
  else {
    for (const r of request.results) {
      if (r.action === "copied" || r.action === "failed" || r.action === "queued") {
        catalog.invalidate(r.target.registry, r.target.repository);
      }
    }
  }
  // Manifests this tool wrote: its recorded writes, this run's copies, and whatever carries a pin tag (only this
  // tool writes `<date>_sha256_<hex>` tags). Only these may go untagged (RETENTION_DELETE_UNTAGGED).
  const owned = new Set<string>(request.writtenBefore);
  for (const r of request.results) if (r.action === "copied" && r.targetDigest) owned.add(r.targetDigest);
  const records: RetentionRecord[] = [];
  for (const [registry, repos] of byRegistry) {
    if (options.policy.deleteUntagged) {
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
        policy: options.policy,
        mode,
        ownedDigests: owned,
        now: request.now,
        ...(options.deleter ? { deleter: options.deleter } : {}),
        record: async (entry) => {
          records.push(entry);
          // A deletion is recorded the moment it happens; the whole list is written again with the run.
          if (mode === "delete" && entry.status !== "reported") await request.recordNow?.(entry);
        },
      });
      for (const e of run.errors)
        request.warnings.push(`retention: ${registry}/${e.repository} not listed: ${e.error}`);
    } catch (err) {
      request.warnings.push(`retention: ${registry}: ${err instanceof Error ? err.message : String(err)}`);
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
