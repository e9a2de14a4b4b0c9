/** `GET /api/bases`: managed images, their bases, which are stale and which are eligible for a rebuild, since when. */
import type { Runtime } from "../runtime";
import { HttpError, ok, onlyParams, type ApiRequest, type ApiResponse } from "./http";

export async function listBases(rt: Runtime, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, []);
  if (!rt.bases)
    throw new HttpError(404, "BasesNotEnabled", "base-image tracking is off: set BASES_CONFIG to an enrollment file");
  const { config } = await rt.loadConfig();
  return ok(await rt.bases.report(config, { now: rt.now() }));
}
