/** `POST /api/sync`: start a run now, optionally report-only or for one image; the run lock still applies. */
import type { Runtime } from "../runtime";
import { UnknownImageError } from "../runtime";
import { HttpError, ok, onlyParams, type ApiRequest, type ApiResponse } from "./http";

interface SyncBody {
  reportOnly?: boolean;
  image?: string;
}

function readBody(req: ApiRequest): SyncBody {
  if (req.invalidJson) throw new HttpError(400, "InvalidJson", "the body is not valid JSON");
  const body = req.body ?? {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(
      400,
      "InvalidBody",
      'expected a JSON object like {"reportOnly": true, "image": "library/nginx"}',
    );
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (key !== "reportOnly" && key !== "image")
      throw new HttpError(400, "UnknownField", `unknown field "${key.slice(0, 40)}"`, key.slice(0, 40));
  }
  if (b.reportOnly !== undefined && typeof b.reportOnly !== "boolean")
    throw new HttpError(400, "InvalidField", "reportOnly must be true or false", "reportOnly");
  if (
    b.image !== undefined &&
    (typeof b.image !== "string" || !/^[a-z0-9][a-z0-9._:/-]{0,254}$/.test(b.image) || b.image.includes(".."))
  ) {
    throw new HttpError(
      400,
      "InvalidField",
      "image must be a repository like library/nginx or ghcr.io/org/app",
      "image",
    );
  }
  return {
    ...(b.reportOnly !== undefined ? { reportOnly: b.reportOnly } : {}),
    ...(b.image ? { image: b.image } : {}),
  };
}

export async function startSync(runtime: Runtime, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, []);
  const body = readBody(req);
  let outcome;
  try {
    outcome = await runtime.sync({ trigger: "manual", ...body, ...(req.enqueue ? { enqueue: req.enqueue } : {}) });
  } catch (err) {
    if (err instanceof UnknownImageError) throw new HttpError(404, "ImageNotConfigured", err.message, "image");
    throw err;
  }
  if (outcome.skipped) throw new HttpError(409, "RunInProgress", outcome.skipped);
  return ok({ run: outcome.run, results: outcome.results, warnings: outcome.warnings }, 200);
}
