/**
 * A sync run in a process of its own, for crash.test.ts to kill: argv[2] is JSON naming the config file and the
 * Table Storage connection string. Transpiled by `transpileForChild` and run with plain node; prints one JSON line
 * when it finishes (which it usually does not: the parent kills it in the middle of its copies).
 */
import { readFileSync } from "node:fs";
import { RegistryClient } from "../../shared/registry/client";
import { Transport } from "../../shared/registry/transport";
import { RunLock } from "../../shared/store/runLock";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";

interface ChildArgs {
  configFile: string;
  connectionString: string;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? "{}") as ChildArgs;
  const config = parseSyncConfig(readFileSync(args.configFile, "utf8"), args.configFile).config;
  const tables = new Tables({ connectionString: args.connectionString });
  const outcome = await runSync({
    client: new RegistryClient(new Transport({ retry: { baseDelayMs: 5, maxDelayMs: 40 } })),
    config,
    trigger: "timer",
    store: new SyncStore(tables),
    lock: new RunLock(tables),
  });
  process.stdout.write(
    JSON.stringify({
      runId: outcome.run.runId,
      copied: outcome.run.copied,
      failed: outcome.run.failed,
      skipped: outcome.skipped ?? null,
    }) + "\n",
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`sync child failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
