/** `GET /api/images` and the ci-images-mirror compatible `GET /api/v1/mirrors`: the latest state of every mirrored tag. */
import type { ImageStatus, SyncStore } from "../store/syncStore";
import { IMAGE_STATES, OUTDATED_STATES, outdated, type Counts, type ImageState } from "../sync/model";
import type { SourceCommitLookup } from "../mirror/sourceCommits";
import { sameCommit } from "../trace/diff";
import { enumParam, HttpError, intParam, onlyParams, ok, type ApiRequest, type ApiResponse } from "./http";

const STATE_FILTERS = [...IMAGE_STATES, "outdated"] as const;
type StateFilter = (typeof STATE_FILTERS)[number];

/** Outdated first, then errors, then the rest, rows removed from the config last; by key within each. */
function rank(s: ImageStatus): number {
  if (s.state === "removed") return 4;
  return OUTDATED_STATES.has(s.state) ? 0 : s.state === "error" ? 1 : s.state === "source-missing" ? 2 : 3;
}

export function sortStatuses(list: ImageStatus[]): ImageStatus[] {
  return list.sort((a, b) => rank(a) - rank(b) || a.key.localeCompare(b.key));
}

/** `total` counts the tags the config still asks for; `removed` rows are history, counted apart. */
function summary(counts: Counts) {
  const total = Object.values(counts).reduce((n, c) => n + c, 0) - counts.removed;
  return { total, outdated: outdated(counts), errors: counts.error, removed: counts.removed, counts };
}

/**
 * `source_sha` (7–40 hex) keeps the rows whose mirrored digest was built from that commit (where a source commit is
 * mirrored); `source_commits=true` adds `sourceSha` to each returned row. Both read the image labels once per digest
 * (cached in the Labels table).
 */
export async function listImages(
  store: SyncStore,
  req: ApiRequest,
  commits?: SourceCommitLookup,
): Promise<ApiResponse> {
  onlyParams(req, ["state", "limit", "action", "source_sha", "source_commits"]);
  const action = enumParam(req, "action", ["show", "summarize"] as const, "show");
  const state = enumParam<StateFilter>(req, "state", STATE_FILTERS);
  const limit = intParam(req, "limit", { min: 1, max: 5000, fallback: 500 });
  const wantSha = req.query.get("source_sha") ?? undefined;
  if (wantSha !== undefined && !/^[0-9a-fA-F]{7,40}$/.test(wantSha)) {
    throw new HttpError(400, "InvalidParameter", "source_sha must be a commit id (7 to 40 hex digits)", "source_sha");
  }
  const withCommits = enumParam(req, "source_commits", ["true", "false"] as const, "false") === "true";
  if (action === "summarize") return ok(summary(await store.countStatuses()));
  let all = sortStatuses(await store.listStatuses(state ? { state: state as ImageState | "outdated" } : {}));
  if ((wantSha !== undefined || withCommits) && !commits) {
    throw new HttpError(503, "SourceCommitsUnavailable", "source commits cannot be read here");
  }
  if (wantSha !== undefined) {
    const shas = await commits!(all);
    all = all.filter((s) => {
      const sha = shas.get(s.key);
      return sha ? sameCommit(sha, wantSha) : false;
    });
    const page = all.slice(0, limit).map((s) => ({ ...s, sourceSha: shas.get(s.key) ?? null }));
    return ok({ images: page, returned: page.length, total: all.length });
  }
  const page = all.slice(0, limit);
  if (withCommits) {
    const shas = await commits!(page);
    return ok({
      images: page.map((s) => ({ ...s, sourceSha: shas.get(s.key) ?? null })),
      returned: page.length,
      total: all.length,
    });
  }
  return ok({ images: page, returned: page.length, total: all.length });
}

/**
 * OpenShift ci-images-mirror's API shape, for dashboards written against it: `action` defaults to `summarize`,
 * `limit` to 1; `mirrors` lists the outdated tags (its queue) with its field names. Bad input is a 400 here, not
 * its 500.
 */
export async function mirrorsCompat(store: SyncStore, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, ["action", "limit"]);
  const action = enumParam(req, "action", ["show", "summarize"] as const, "summarize");
  const limit = intParam(req, "limit", { min: 1, max: 5000, fallback: 1 });
  const pending = sortStatuses(await store.listStatuses({ state: "outdated" }));
  if (action === "summarize") return ok({ total: pending.length });
  return ok({
    total: pending.length,
    mirrors: pending.slice(0, limit).map((s) => ({
      source: s.sourceDigest ? `${s.source.replace(/:[^:/]+$/, "")}@${s.sourceDigest}` : s.source,
      destination: `${s.targetRegistry}/${s.targetRepository}:${s.tag}`,
      current_target_digest: s.targetDigest ?? "",
      created_at: s.lastCheckedAt,
      stale: true,
      owner: s.origin,
      state: s.state,
      last_error: s.lastError ?? "",
    })),
  });
}
