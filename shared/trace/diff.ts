/**
 * What changed between two traces: two environments at one commit ("what does prod lack that int has?") or two
 * commits of one environment ("what did this promotion change?"). Components are matched by config path, the one
 * key that survives repository renames.
 */
import { compareUrl } from "./links";
import { realFailures, type TraceComponent, type TraceResponse } from "./response";

export type ChangeKind = "changed" | "added" | "removed";

export interface ComponentChange {
  name: string;
  path: string;
  change: ChangeKind;
  old_registry: string | null;
  old_repository: string | null;
  old_digest: string | null;
  old_source_sha: string | null;
  new_registry: string | null;
  new_repository: string | null;
  new_digest: string | null;
  new_source_sha: string | null;
  /** The new side's source repository, else the old side's. */
  source_repo_url: string | null;
  /**
   * False when the image changed but was built from the same commit (a rebuild, a new base image); null when a side
   * has no source commit.
   */
  source_changed: boolean | null;
  /** `<repo>/compare/<old>...<new>` when both commits are known and both sides name the same repository. */
  compare_url: string | null;
}

export interface DiffSide {
  commit_sha: string;
  environment: string;
  cloud: string;
  region: string | null;
  cached: boolean;
}

export interface TraceDiff {
  from: DiffSide;
  to: DiffSide;
  changed: ComponentChange[];
  /** Config paths whose image is the same on both sides. */
  unchanged: string[];
  /** Both traces' component errors, each prefixed with its side. */
  errors: string[];
  /** Components of either side that really failed (`no-label` is not a failure). */
  failures: number;
  warnings: string[];
}

export function diffTraces(from: TraceResponse, to: TraceResponse): TraceDiff {
  const before = new Map(from.components.map((c) => [c.path, c]));
  const after = new Map(to.components.map((c) => [c.path, c]));
  const changed: ComponentChange[] = [];
  const unchanged: string[] = [];
  // Paths in the order the newer side lists them, then paths only the older side has.
  const paths = [...after.keys(), ...[...before.keys()].filter((p) => !after.has(p))];
  for (const path of paths) {
    const a = before.get(path);
    const b = after.get(path);
    if (a && b && sameImage(a, b)) {
      unchanged.push(path);
      continue;
    }
    changed.push(change(path, a, b));
  }
  const side = (t: TraceResponse): DiffSide => ({
    commit_sha: t.commit_sha,
    environment: t.environment,
    cloud: t.cloud,
    region: t.region,
    cached: t.cached,
  });
  const label = (t: TraceResponse) => `${t.commit_sha.slice(0, 12)} ${t.cloud}/${t.environment}`;
  return {
    from: side(from),
    to: side(to),
    changed,
    unchanged,
    errors: [...from.errors.map((e) => `${label(from)}: ${e}`), ...to.errors.map((e) => `${label(to)}: ${e}`)],
    failures: realFailures(from.components).length + realFailures(to.components).length,
    warnings: [...new Set([...from.warnings, ...to.warnings])],
  };
}

// The image is what matters, not how it was described: the same digest from the same place is the same component.
function sameImage(a: TraceComponent, b: TraceComponent): boolean {
  return a.digest === b.digest && a.registry === b.registry && a.repository === b.repository && a.tag === b.tag;
}

function change(path: string, a: TraceComponent | undefined, b: TraceComponent | undefined): ComponentChange {
  const oldSha = a?.source_sha ?? null;
  const newSha = b?.source_sha ?? null;
  const oldRepo = a?.source_repo_url ?? null;
  const newRepo = b?.source_repo_url ?? null;
  return {
    name: b?.name ?? a?.name ?? path,
    path,
    change: a && b ? "changed" : b ? "added" : "removed",
    old_registry: a?.registry ?? null,
    old_repository: a?.repository ?? null,
    old_digest: a?.digest ?? null,
    old_source_sha: oldSha,
    new_registry: b?.registry ?? null,
    new_repository: b?.repository ?? null,
    new_digest: b?.digest ?? null,
    new_source_sha: newSha,
    source_repo_url: newRepo ?? oldRepo,
    source_changed: oldSha !== null && newSha !== null ? !sameCommit(oldSha, newSha) : null,
    compare_url:
      oldRepo !== null && oldRepo === newRepo && oldSha && newSha && !sameCommit(oldSha, newSha)
        ? compareUrl(newRepo, oldSha, newSha)
        : null,
  };
}

/**
 * `8289751` and `8289751C…` name the same commit: a label, a stored row or a caller may carry the short form, in
 * either case. A prefix counts from 7 hex digits, as git abbreviates.
 */
export function sameCommit(a: string, b: string): boolean {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  if (x === y) return true;
  const [short, long] = x.length <= y.length ? [x, y] : [y, x];
  return short.length >= 7 && /^[0-9a-f]+$/.test(long) && long.startsWith(short);
}
