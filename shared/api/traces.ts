/**
 * The trace over HTTP: `GET /api/traces`, the ARO-HCP tracer's `POST /api/trace-images`, and `GET /api/traces/diff`.
 * Input parsing and error shaping belong to shared/trace/api.ts, so the MCP tools and the CLI answer the same way.
 */
import type { Runtime } from "../runtime";
import {
  answer,
  diffRequest,
  parseDiffBody,
  parseDiffQuery,
  parseTraceBody,
  parseTraceQuery,
  traceRequest,
  type TraceDeps,
} from "../trace/api";
import { HOST } from "../registry/reference";
import { traceImages, type TraceImagesOptions } from "../trace/tracer";
import { enumParam, HttpError, onlyParams, type ApiRequest, type ApiResponse } from "./http";

const SIDE = ["commit", "environment", "cloud", "region"];

async function deps(rt: Runtime): Promise<TraceDeps> {
  const d = await rt.traceDeps();
  if (!d)
    throw new HttpError(
      503,
      "TraceNotConfigured",
      "set TRACE_CONFIG_SOURCE (a git clone, a directory, or a URL template with {commit} and {path})",
    );
  return d;
}

export async function getTrace(rt: Runtime, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, [...SIDE, ...EXTRAS]);
  const extras = traceExtras(rt, req);
  const d = await deps(rt);
  if (!extras) return answer(() => traceRequest(d, parseTraceQuery(req.query)));
  return answer(() => traceImages({ ...d, ...parseTraceQuery(req.query), ...extras }));
}

// Issue 20: `mirror=true` (or `mirror_target=<host>`) says per component whether its digest is in the environment's
// registry (image status first, else one HEAD); `resolve_tags=true` resolves tag-only entries with one HEAD each.
const EXTRAS = ["mirror", "mirror_target", "resolve_tags"];

function traceExtras(rt: Runtime, req: ApiRequest): Pick<TraceImagesOptions, "mirror" | "resolveTags"> | undefined {
  const flag = (name: string) => enumParam(req, name, ["true", "false"] as const, "false") === "true";
  const target = req.query.get("mirror_target") ?? undefined;
  if (target !== undefined && (target.length > 255 || !HOST.test(target))) {
    throw new HttpError(400, "InvalidParameter", "mirror_target must be a registry host", "mirror_target");
  }
  const mirror = flag("mirror") || target !== undefined;
  const resolveTags = flag("resolve_tags");
  if (!mirror && !resolveTags) return undefined;
  const store = rt.store;
  return {
    ...(resolveTags ? { resolveTags } : {}),
    ...(mirror
      ? {
          mirror: {
            registry: target,
            ...(store
              ? {
                  status: async (registry: string, repository: string, tag: string) =>
                    (await store.getStatus({ registry, repository, tag }))?.targetDigest,
                }
              : {}),
          },
        }
      : {}),
  };
}

export async function postTraceImages(rt: Runtime, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, []);
  if (req.invalidJson) throw new HttpError(400, "InvalidJson", "the body is not valid JSON");
  const d = await deps(rt);
  return answer(() => traceRequest(d, parseTraceBody(req.body)));
}

export async function getTraceDiff(rt: Runtime, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, [...SIDE, "commit_b", "environment_b", "cloud_b", "region_b"]);
  const d = await deps(rt);
  return answer(() => diffRequest(d, parseDiffQuery(req.query)));
}

/** For the MCP tools: the same handlers on a JSON arguments object. */
export async function traceTool(rt: Runtime, args: unknown): Promise<ApiResponse> {
  const d = await deps(rt);
  return answer(() => traceRequest(d, parseTraceBody(args)));
}

export async function diffTool(rt: Runtime, args: unknown): Promise<ApiResponse> {
  const d = await deps(rt);
  return answer(() => diffRequest(d, parseDiffBody(args)));
}
