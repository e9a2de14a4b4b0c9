/**
 * `GET /api/health`: settings loaded, storage reachable, sync config valid, no mirrored tag in error, and how long
 * since the last run. Rows removed from the config are history and never count.
 */
import type { Runtime } from "../runtime";
import { onlyParams, type ApiRequest, type ApiResponse } from "./http";

type Check = { ok: true; detail?: string } | { ok: false; error: string };

async function check(fn: () => Promise<string | undefined>): Promise<Check> {
  try {
    const detail = await fn();
    return detail ? { ok: true, detail } : { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message.split("\n").slice(0, 6).join("\n") : String(err) };
  }
}

export async function health(runtime: Runtime, req: ApiRequest, now = () => Date.now()): Promise<ApiResponse> {
  onlyParams(req, []);
  const storage = await check(async () => {
    if (!runtime.tables) throw new Error("no Table Storage configured");
    await runtime.tables.ping();
    return undefined;
  });
  const config = await check(async () => {
    const loaded = await runtime.loadConfig();
    const entries = loaded.config.images.length + loaded.config.serviceConfigs.length;
    return `${entries} entries, ${loaded.warnings.length} warnings`;
  });
  const images: Check = storage.ok
    ? await check(async () => {
        const counts = await runtime.store!.countStatuses();
        if (counts.error > 0) {
          throw new Error(
            `${counts.error} mirrored ${counts.error === 1 ? "tag is" : "tags are"} in error (GET /api/images?state=error)`,
          );
        }
        return `${Object.values(counts).reduce((n, c) => n + c, 0) - counts.removed} tags, none in error`;
      })
    : { ok: false, error: "storage unavailable" };
  let lastRun: { runId: string; startedAt: string; status: string; ageSeconds: number } | null = null;
  if (storage.ok) {
    const [run] = (await runtime.store?.listRuns(1).catch(() => [])) ?? [];
    if (run)
      lastRun = {
        runId: run.runId,
        startedAt: run.startedAt,
        status: run.status,
        ageSeconds: Math.round((now() - Date.parse(run.startedAt)) / 1000),
      };
  }
  // 503 only when the service itself cannot work; tags in error (an upstream down, a pull secret refused) make it
  // `degraded`, which the body and the status page say, without telling a load balancer to recycle the app.
  const serviceOk = storage.ok && config.ok;
  const state = !serviceOk ? "unhealthy" : images.ok ? "healthy" : "degraded";
  return {
    status: serviceOk ? 200 : 503,
    body: {
      ok: state === "healthy",
      status: state,
      checks: { settings: { ok: true }, storage, config, images },
      lastRun,
    },
  };
}
