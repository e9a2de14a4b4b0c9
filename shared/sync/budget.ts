/**
 * The timer's time budget. A Function run is killed at `functionTimeout` (host.json); a run that plans 10,000 tags
 * must stop before that with a margin, say what it did not reach, and start there next time, so no entry starves
 * behind the ones before it. The cursor names the entry the next run starts at by its identity (source, target and
 * tag rule), not only its position, so an edited config resumes at the same entry where it still exists.
 */
import type { ImageEntry, SyncConfig } from "./configTypes";

export interface PlanCursor {
  /** Position of the entry in the config's images then service configs. */
  entry: number;
  /** Identity of that entry (`entryIdentity`), checked before the position is trusted. */
  entryKey: string;
  /** Entries in the config when the cursor was written. */
  total: number;
  /** Entries the run that wrote it did not reach (0: it went round, or a deferred copy sent the cursor back). */
  notReached: number;
  runId: string;
  at: string;
}

export function allEntries(config: SyncConfig): ImageEntry[] {
  return [...config.images, ...config.serviceConfigs];
}

/**
 * What an entry copies, independent of where it sits in the file (positions and lines move when a config is edited):
 * source, target and tag rule. Two entries alike in all three copy the same tags, so resuming at either is right.
 */
export function entryIdentity(entry: ImageEntry): string {
  const { source, target } = entry;
  return `${source.registry}/${source.repository} -> ${target.registry}/${target.repository} ${JSON.stringify(entry.rule)}`;
}

/** Where a run starts: the cursor's entry by identity, else by position, else the first entry. */
export function resumeEntry(cursor: PlanCursor | undefined, entries: readonly ImageEntry[]): number {
  if (!cursor || entries.length === 0) return 0;
  const at = cursor.entry < entries.length ? entries[cursor.entry] : undefined;
  if (at && entryIdentity(at) === cursor.entryKey) return cursor.entry;
  const found = entries.findIndex((e) => entryIdentity(e) === cursor.entryKey);
  if (found >= 0) return found;
  return cursor.entry % entries.length;
}
