/**
 * The retention step of a run: after the copies, hand the run's target repositories, results and the digests this
 * tool wrote before to the retention port (shared/sync/ports.ts; ACR implements it), recording each deletion as it
 * happens. It never fails the run: trouble is a warning.
 */
import type { ImageStatus, SyncStore } from "../store/syncStore";
import type { SyncConfig } from "./configTypes";
import type { ImageResult } from "./model";
import type { RetentionOutcome, RetentionPort } from "./ports";

export type { RetentionOutcome } from "./ports";

export interface RetentionContext {
  retention: RetentionPort | undefined;
  config: SyncConfig;
  reportOnly: boolean;
  store: SyncStore | undefined;
}

export async function retain(
  options: RetentionContext,
  results: readonly ImageResult[],
  status: ReadonlyMap<string, ImageStatus> | undefined,
  runId: string,
  now: () => Date,
  warnings: string[],
): Promise<RetentionOutcome | undefined> {
  if (!options.retention) return undefined;
  const writtenBefore = new Set<string>();
  for (const s of status?.values() ?? []) if (s.writtenDigest) writtenBefore.add(s.writtenDigest);
  const store = options.store;
  return options.retention.retain({
    targets: [...options.config.images, ...options.config.serviceConfigs].map((e) => e.target),
    results,
    writtenBefore,
    reportOnly: options.reportOnly,
    now,
    warnings,
    ...(store
      ? {
          recordNow: (entry) =>
            store.saveRetention(runId, [entry]).catch((err: unknown) => {
              warnings.push(
                `retention: could not record ${entry.repository} ${entry.tag ?? entry.digest}: ${String(err)}`,
              );
            }),
        }
      : {}),
  });
}
