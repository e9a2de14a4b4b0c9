/**
 * `GET /api/runs` and `GET /api/runs/{id}`: run history, newest first, with each run's per-image results and its
 * retention entries (pin tags and manifests deleted in ACR, or reported as would-be deletions).
 */
import type { SyncStore } from "../store/syncStore";
import { HttpError, intParam, onlyParams, ok, type ApiRequest, type ApiResponse } from "./http";

const RUN_ID = /^[0-9A-Za-z_-]{1,64}$/;

export async function listRuns(store: SyncStore, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, ["limit"]);
  const limit = intParam(req, "limit", { min: 1, max: 500, fallback: 20 });
  const runs = await store.listRuns(limit);
  return ok({ runs, returned: runs.length });
}

export async function getRun(store: SyncStore, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, []);
  const id = req.params.id ?? "";
  if (!RUN_ID.test(id))
    throw new HttpError(400, "InvalidParameter", "run id must be 1-64 letters, digits, _ or -", "id");
  const run = await store.getRun(id);
  if (!run) throw new HttpError(404, "RunNotFound", `no run with id ${id}`, "id");
  const [results, retention] = await Promise.all([store.listResults(id), store.listRetention(id)]);
  return ok({ run, results, retention });
}
