import { app, type InvocationContext, type Timer } from "@azure/functions";
import { copyQueueOutput, queueSink } from "./copyQueue";
import { getRuntime } from "./runtime";

/** The timer: plan → copy (or enqueue, in queue mode) → record → metrics, on the schedule the infra sets. */
export async function syncImages(timer: Timer, context: InvocationContext): Promise<void> {
  if (timer.isPastDue)
    context.warn("syncImages is running late (isPastDue): the host was down or busy at the scheduled time");
  const runtime = getRuntime();
  const enqueue = queueSink(runtime, context);
  const outcome = await runtime.sync({ trigger: "timer", ...(enqueue ? { enqueue } : {}) });
  for (const w of outcome.warnings) context.warn(w);
  if (outcome.skipped) return context.warn(`sync skipped: ${outcome.skipped}`);
  // One structured line per tag that did anything, so a query over traces finds an image's history by its key.
  for (const r of outcome.results) {
    if (r.action === "unchanged") continue;
    const line = JSON.stringify({
      image: r.key,
      action: r.action,
      state: r.state,
      stateAfter: r.stateAfter,
      sourceDigest: r.sourceDigest,
      targetDigest: r.targetDigest,
      bytes: r.bytes,
      ...(r.error || r.state === "error" ? { error: r.error ?? r.reason } : {}),
    });
    if (r.action === "failed" || r.state === "error") context.warn(line);
    else context.log(line);
  }
  const { run } = outcome;
  context.log(
    `run ${run.runId} ${run.status}: ${outcome.results.length} tags, copied ${run.copied}, failed ${run.failed}, ` +
      `queued ${outcome.results.filter((r) => r.action === "queued").length}, ${run.requests} requests, ${run.durationMs} ms`,
  );
}

app.timer("syncImages", {
  schedule: "%SYNC_SCHEDULE%",
  useMonitor: true,
  runOnStartup: false,
  extraOutputs: [copyQueueOutput],
  handler: syncImages,
});
