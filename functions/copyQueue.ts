/** The copy queue, bound by setting name so the infra owns it; trigger and output share the host's encoding. */
import { output, type InvocationContext } from "@azure/functions";
import type { Runtime, SyncRequest } from "../shared/runtime";
import { toCopyMessages } from "../shared/sync/copyMessage";

export const COPY_QUEUE = "%COPY_QUEUE_NAME%";
export const copyQueueOutput = output.storageQueue({ queueName: COPY_QUEUE, connection: "AzureWebJobsStorage" });

/** In queue mode, where a run's outdated items go: this invocation's queue output, one message each. */
export function queueSink(runtime: Runtime, context: InvocationContext): SyncRequest["enqueue"] {
  if (runtime.settings.syncMode !== "queue") return undefined;
  return async (items, runId) => {
    context.extraOutputs.set(copyQueueOutput, toCopyMessages(items, runId));
  };
}
