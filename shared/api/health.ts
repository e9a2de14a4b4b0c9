/**
 * `GET /api/health`: settings loaded, storage reachable, sync config valid, no mirrored tag in error, and how long
 * since the last run. Rows removed from the config are history and never count. A failing check says what kind of
 * failure it is and where to look; never the raw error text, which can carry endpoints, paths or an upstream's
 * words (the logs have the detail).
 */
import type { Runtime } from "../runtime";
import { ConfigError } from "../sync/configError";
import { onlyParams, type ApiRequest, type ApiResponse } from "./http";

export type FailureClass = "not-configured" | "unreachable" | "invalid" | "failed";
type Check = { ok: true; detail?: string } | { ok: false; class: FailureClass; hint: string };

class CheckFailure extends Error {
  constructor(
    readonly failure: FailureClass,
    readonly hint: string,
  ) {
    super(hint);
  }
}

async function check(
  fn: () => Promise<string | undefined>,
  classify: (err: unknown) => { class: FailureClass; hint: string },
  log: (line: string) => void,
): Promise<Check> {
  try {
    const detail = await fn();
    return detail ? { ok: true, detail } : { ok: true };
  } catch (err) {
    if (err instanceof CheckFailure) return { ok: false, class: err.failure, hint: err.hint };
    log(`health: ${err instanceof Error ? err.message.split("\n").slice(0, 6).join("\n") : String(err)}`);
    return { ok: false, ...classify(err) };
  }
}

export async function health(
  runtime: Runtime,
  req: ApiRequest,
  now = () => Date.now(),
  log: (line: string) => void = () => {},
): Promise<ApiResponse> {
  onlyParams(req, []);
  const storage = await check(
    async () => {
      if (!runtime.tables)
        throw new CheckFailure("not-configured", "set TABLES_ENDPOINT (or TABLES_CONNECTION_STRING for Azurite)");
      await runtime.tables.ping();
      return undefined;
    },
    () => ({
      class: "unreachable",
      hint: "Table Storage did not answer: check TABLES_ENDPOINT and the identity's table data role",
    }),
    log,
  );
  const config = await check(
    async () => {
      const loaded = await runtime.loadConfig();
      const entries = loaded.config.images.length + loaded.config.serviceConfigs.length;
      return `${entries} entries, ${loaded.warnings.length} warnings`;
    },
    (err) =>
      err instanceof ConfigError
        ? {
            class: "invalid",
            hint: "the sync config does not validate: `acr-image-sync plan` names file, line and key",
          }
        : { class: "unreachable", hint: "the sync config could not be read: check SYNC_CONFIG" },
    log,
  );
  const images: Check = storage.ok
    ? await check(
        async () => {
          const counts = await runtime.store!.countStatuses();
          if (counts.error > 0) {
            throw new CheckFailure(
              "failed",
              `${counts.error} mirrored ${counts.error === 1 ? "tag is" : "tags are"} in error (GET /api/images?state=error)`,
            );
          }
          return `${Object.values(counts).reduce((n, c) => n + c, 0) - counts.removed} tags, none in error`;
        },
        () => ({ class: "unreachable", hint: "the image status could not be read from Table Storage" }),
        log,
      )
    : { ok: false, class: "unreachable", hint: "storage unavailable" };
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
