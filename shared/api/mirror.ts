/**
 * `POST /api/mirror`: the pre-rollout step over HTTP (a write route, like `POST /api/sync`). Body
 * `{"commit_sha", "environment", "cloud"?, "region"?, "tag_only"?: "skip"|"tag"|"resolve", "target"?}`; the config is
 * read from TRACE_CONFIG_SOURCE with the trace's service definition and registry map. Answers the mirror report:
 * 200 when every image is verified at the target, 502 when some image failed (each named in `errors`), 400 on bad
 * input (an unknown environment or config path lists the valid choices).
 */
import { HOST } from "../registry/reference";
import type { Runtime } from "../runtime";
import { mirrorEnvironment, MirrorTargetError } from "../mirror/mirror";
import { LayeredConfigSource, TAG_ONLY_RULES, type TagOnlyRule } from "../sources/layeredConfig";
import { parseTraceBody } from "../trace/api";
import { readFrom } from "../trace/registryMap";
import { HttpError, onlyParams, type ApiRequest, type ApiResponse } from "./http";

const FIELDS = ["commit_sha", "environment", "cloud", "region", "tag_only", "target"];

export async function postMirror(rt: Runtime, req: ApiRequest): Promise<ApiResponse> {
  onlyParams(req, []);
  if (req.invalidJson) throw new HttpError(400, "InvalidJson", "the body is not valid JSON");
  const body = req.body;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "InvalidBody", 'expected a JSON object like {"commit_sha": "…", "environment": "prod"}');
  }
  const { tag_only: tagOnly, target, ...rest } = body as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!FIELDS.includes(key))
      throw new HttpError(400, "UnknownField", `unknown field "${key.slice(0, 40)}"`, key.slice(0, 40));
  }
  if (tagOnly !== undefined && !(TAG_ONLY_RULES as readonly unknown[]).includes(tagOnly)) {
    throw new HttpError(400, "InvalidField", `tag_only must be one of ${TAG_ONLY_RULES.join(", ")}`, "tag_only");
  }
  if (target !== undefined && (typeof target !== "string" || target.length > 255 || !HOST.test(target))) {
    throw new HttpError(400, "InvalidField", "target must be a registry host", "target");
  }
  const input = parseTraceBody(rest);
  const deps = await rt.traceDeps();
  if (!deps) {
    throw new HttpError(
      503,
      "TraceNotConfigured",
      "set TRACE_CONFIG_SOURCE: the mirror reads the service config from it",
    );
  }
  const read = await new LayeredConfigSource(
    {
      name: deps.source.name,
      repo: deps.source.name,
      commit: input.commit,
      cloud: input.cloud,
      environment: input.environment,
      region: input.region,
      tagOnly: (tagOnly as TagOnlyRule | undefined) ?? "skip",
      targetRegistryPath: target === undefined ? "acr.svc.name" : undefined,
    },
    deps.source,
    async (registry, repository, tag) =>
      (await deps.client.manifestHead(readFrom(deps.registryMap, registry), repository, tag))?.digest,
    deps.definition,
  ).read();
  let report;
  try {
    report = await mirrorEnvironment({
      client: deps.client,
      source: read,
      targetRegistry: target as string | undefined,
      registryMap: deps.registryMap,
    });
  } catch (err) {
    if (err instanceof MirrorTargetError) throw new HttpError(400, "NoTargetRegistry", err.message, "target");
    throw err;
  }
  return { status: report.ok ? 200 : 502, body: report };
}
