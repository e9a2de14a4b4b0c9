/**
 * One copy worker for bench/fanout.bench.ts: a process that runs the real queue handler (functions/copyImage.ts, through
 * functions/localHost.ts)
 * against Azurite's queue through test/harness/queueHost.ts, as one Function instance would. Settings come from the
 * environment like the host's app settings; AZURITE_QUEUE_CONNECTION names the queue account. Prints one JSON line
 * with what it did, and the keys it copied, so the bench can prove that no copy was done twice.
 */
import { copyMessageLocally } from "../functions/localHost";
import { runQueueHost } from "../test/harness/queueHost";

async function main(): Promise<void> {
  const copied: string[] = [];
  const skipped: string[] = [];
  const started = Date.now();
  let lastDoneAt = started;
  const stats = await runQueueHost({
    connectionString: process.env.AZURITE_QUEUE_CONNECTION ?? "",
    queue: process.env.COPY_QUEUE_NAME ?? "copy-image",
    batchSize: 4,
    handler: async (message, dequeueCount) => {
      await copyMessageLocally(message, dequeueCount, (level, line) => {
        // "<key> copied|skipped <digest> (…)": the handler's own result line.
        const m = /^(\S+) (copied|skipped|unchanged) /.exec(line);
        if (m) (m[2] === "copied" ? copied : skipped).push(m[1]!);
        else if (level === "error" || level === "warning") console.error(line);
      });
      lastDoneAt = Date.now();
    },
  });
  console.log(JSON.stringify({ pid: process.pid, started, lastDoneAt, ...stats, copied, skipped }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
