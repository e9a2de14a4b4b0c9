/**
 * What the Functions host's queue extension does for a queue trigger, enough to run the real handler against
 * Azurite's queue in several processes (as several Function instances would): receive a batch with a visibility
 * timeout, decode base64 (host.json `messageEncoding`), hand the JSON to the handler, delete on success; on a throw,
 * leave it to reappear after the visibility timeout, and once it has been dequeued `maxDequeueCount` times, move it to
 * `<queue>-poison` (https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages,
 * host.json settings: https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json).
 */
import { QueueServiceClient } from "@azure/storage-queue";

export interface QueueHostOptions {
  connectionString: string;
  queue: string;
  handler: (message: unknown, dequeueCount: number) => Promise<void>;
  batchSize?: number;
  maxDequeueCount?: number;
  visibilityTimeoutSeconds?: number;
  /** Stop after the queue has been empty this long. */
  idleMs?: number;
  pollMs?: number;
}

export interface QueueHostStats {
  processed: number;
  succeeded: number;
  failed: number;
  poisoned: number;
}

export async function runQueueHost(options: QueueHostOptions): Promise<QueueHostStats> {
  const service = QueueServiceClient.fromConnectionString(options.connectionString);
  const queue = service.getQueueClient(options.queue);
  const poison = service.getQueueClient(`${options.queue}-poison`);
  const stats: QueueHostStats = { processed: 0, succeeded: 0, failed: 0, poisoned: 0 };
  const idleMs = options.idleMs ?? 1500;
  const pollMs = options.pollMs ?? 100;
  let idleSince = Date.now();
  for (;;) {
    const { receivedMessageItems: batch } = await queue.receiveMessages({
      numberOfMessages: options.batchSize ?? 4,
      visibilityTimeout: options.visibilityTimeoutSeconds ?? 60,
    });
    if (batch.length === 0) {
      if (Date.now() - idleSince >= idleMs) return stats;
      await new Promise((r) => setTimeout(r, pollMs));
      continue;
    }
    await Promise.all(
      batch.map(async (m) => {
        stats.processed++;
        const text = Buffer.from(m.messageText, "base64").toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // The handler sees the text, as the host passes a non-JSON message.
        }
        try {
          await options.handler(body, m.dequeueCount);
          stats.succeeded++;
          await queue.deleteMessage(m.messageId, m.popReceipt);
        } catch {
          stats.failed++;
          if (m.dequeueCount >= (options.maxDequeueCount ?? 5)) {
            await poison.createIfNotExists();
            await poison.sendMessage(m.messageText);
            await queue.deleteMessage(m.messageId, m.popReceipt);
            stats.poisoned++;
          }
        }
      }),
    );
    idleSince = Date.now();
  }
}

/** Sends messages as the host's queue output binding does: JSON, base64-encoded. */
export async function enqueueJson(
  connectionString: string,
  queueName: string,
  messages: readonly unknown[],
): Promise<void> {
  const queue = QueueServiceClient.fromConnectionString(connectionString).getQueueClient(queueName);
  await queue.createIfNotExists();
  for (let i = 0; i < messages.length; i += 32) {
    await Promise.all(
      messages.slice(i, i + 32).map((m) => queue.sendMessage(Buffer.from(JSON.stringify(m)).toString("base64"))),
    );
  }
}

export async function queueLength(connectionString: string, queueName: string): Promise<number> {
  const queue = QueueServiceClient.fromConnectionString(connectionString).getQueueClient(queueName);
  if (!(await queue.exists())) return 0;
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}
