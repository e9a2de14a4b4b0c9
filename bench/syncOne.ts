/**
 * One sync run in a process of its own, for the sync benchmark: skopeo runs as its own process, and ours must not
 * share an event loop with the benchmark's counting proxies (which spend about a millisecond of CPU per request).
 * Arguments: the sync config file, the Azurite connection string, and `verify` or `trust`. Prints the run's copied
 * count and its own wall time (from the run's start, as in a warm Functions host: not Node's start and module
 * loading, ~0.35 s here) as JSON, or exits non-zero with the run's error summary.
 */
import { RegistryClient } from "../shared/registry/client";
import { Transport } from "../shared/registry/transport";
import { RunLock } from "../shared/store/runLock";
import { SyncStore } from "../shared/store/syncStore";
import { Tables } from "../shared/store/tables";
import { loadSyncConfigFile } from "../shared/sync/config";
import { runSync } from "../shared/sync/executor";

async function main(): Promise<void> {
  const [configPath, connectionString, mode] = process.argv.slice(2);
  if (!configPath || !connectionString || (mode !== "verify" && mode !== "trust")) {
    throw new Error("usage: syncOne <config> <azurite connection string> verify|trust");
  }
  const { config } = await loadSyncConfigFile(configPath);
  const tables = new Tables({ connectionString });
  // A fresh client per run: no token or connection state carried over, as in a new timer invocation.
  const started = performance.now();
  const outcome = await runSync({
    client: new RegistryClient(new Transport()),
    config,
    trigger: "cli",
    store: new SyncStore(tables),
    lock: new RunLock(tables),
    verifyTarget: mode === "verify",
    rateLimitReserve: 0,
  });
  if (outcome.run.failed) throw new Error(`sync failed: ${outcome.run.errorSummary}`);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ copied: outcome.run.copied, seconds }) + "\n");
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
