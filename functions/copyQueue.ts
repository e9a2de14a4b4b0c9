/** The copy queue, bound by setting name so the infra owns it; trigger and output share the host's encoding. */
import { output } from "@azure/functions";

export const COPY_QUEUE = "%COPY_QUEUE_NAME%";
export const copyQueueOutput = output.storageQueue({ queueName: COPY_QUEUE, connection: "AzureWebJobsStorage" });
