import { app, type InvocationContext } from "@azure/functions";
import { CopyMessageRefusedError } from "../shared/sync/copyAuthority";
import { parseCopyMessage } from "../shared/sync/copyMessage";
import { COPY_QUEUE } from "./copyQueue";
import { getRuntime } from "./runtime";

/**
 * One queued copy. A failed copy throws so the host retries it (maxDequeueCount in host.json) and finally moves it
 * to the poison queue; a malformed message is logged and dropped, since no retry can fix it.
 */
export async function copyImage(message: unknown, context: InvocationContext): Promise<void> {
  let parsed;
  try {
    parsed = parseCopyMessage(message);
  } catch (err) {
    context.error(
      `${(err as Error).message}; message dropped (dequeue count ${String(context.triggerMetadata?.dequeueCount ?? "?")})`,
    );
    return;
  }
  let result;
  try {
    result = await getRuntime().copy(parsed);
  } catch (err) {
    if (!(err instanceof CopyMessageRefusedError)) throw err;
    // A forged or stale message: no retry makes the config agree, so it is logged (no message text echoed) and dropped.
    context.error(`${err.message}; message for run ${parsed.runId} dropped`);
    return;
  }
  if (result.action === "failed") throw new Error(`${result.key}: ${result.error ?? "copy failed"}`);
  context.log(
    `${result.key} ${result.action} ${result.targetDigest ?? ""} (${result.bytes} bytes, run ${parsed.runId})`,
  );
}

app.storageQueue("copyImage", { queueName: COPY_QUEUE, connection: "AzureWebJobsStorage", handler: copyImage });
