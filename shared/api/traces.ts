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
import { HttpError, onlyParams, type ApiRequest, type ApiResponse } from "./http";

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
  onlyParams(req, SIDE);
  const d = await deps(rt);
  return answer(() => traceRequest(d, parseTraceQuery(req.query)));
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
