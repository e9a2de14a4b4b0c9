/**
 * Queue fan-out benchmark: a timer run in queue mode enqueues BENCH_FANOUT_COPIES (default 200) copies into Azurite's
 * queue; K copy workers (K = 1, 2, 4; BENCH_FANOUT_WORKERS changes the list), each a separate Node process running the
 * real queue handler (bench/queueWorker.ts → functions/copyImage.ts), drain it, as K Function instances would.
 * Checked for every K: every copy done exactly once across the workers, every target tag at the source digest (HEAD),
 * the queue and its poison queue empty. Then the shared pull quota: K = 4 workers with a stored upstream reading of
 * reserve + COPIES/4 pulls copy exactly that many between them and leave the reserve untouched.
 * Prints a table and writes bench/results/fanout.json. BENCH_FANOUT_NODE_ARGS passes node flags to the workers.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RegistryClient } from "../shared/registry/client";
import { mapSettled } from "../shared/registry/limiter";
import { Transport } from "../shared/registry/transport";
import { SyncStore } from "../shared/store/syncStore";
import { Tables } from "../shared/store/tables";
import { loadSyncConfigFile } from "../shared/sync/config";
import { toCopyMessages } from "../shared/sync/copyMessage";
import { runSync } from "../shared/sync/executor";
import { startAzurite } from "../test/harness/azurite";
import { buildImage, pushImage, randomLayer } from "../test/harness/images";
import { enqueueJson, queueLength } from "../test/harness/queueHost";
import { startRegistry } from "../test/harness/registry";
import { fmt, printTable, writeReport } from "./report";

const COPIES = Number(process.env.BENCH_FANOUT_COPIES ?? 200);
const WORKERS = (process.env.BENCH_FANOUT_WORKERS ?? "1,2,4").split(",").map(Number);
const LAYER_KIB = Number(process.env.BENCH_FANOUT_LAYER_KIB ?? 256);
const REPOS = 20;
const RESERVE = 10;
/** Pulls left above the reserve in the quota phase: a quarter of the copies. */
const QUOTA = Math.max(1, Math.floor(COPIES / 4));

interface WorkerReport {
  pid: number;
  started: number;
  lastDoneAt: number;
  processed: number;
  succeeded: number;
  failed: number;
  poisoned: number;
  copied: string[];
  skipped: string[];
}

interface Phase {
  name: string;
  workers: number;
  seconds: number;
  copiesPerSecond: number;
  copied: number;
  skipped: number;
  doneTwice: number;
  verified: number;
  queueLeft: number;
  poison: number;
}

function startWorker(env: Record<string, string>): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    // BENCH_FANOUT_NODE_ARGS: extra node flags for the workers, e.g. "--cpu-prof --cpu-prof-dir=prof".
    const nodeArgs = (process.env.BENCH_FANOUT_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, join(__dirname, "queueWorker.js")], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    // @azure/functions says once per process that it runs outside the host ("test mode"); anything else is shown.
    child.stderr.on("data", (c: Buffer) => {
      for (const line of c.toString("utf8").split("\n"))
        if (line.trim() && !line.startsWith("WARNING: ")) process.stderr.write(`worker ${child.pid}: ${line}\n`);
    });
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.once("error", reject);
    child.once("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${out}`));
      resolve(JSON.parse(line) as WorkerReport);
    });
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ais-fanout-"));
  const stoppers: Array<{ stop(): Promise<void> }> = [];
  try {
    const [up, acr, azurite] = await Promise.all([startRegistry(), startRegistry(), startAzurite()]);
    stoppers.push(up, acr, azurite);
    const client = new RegistryClient(new Transport());
    const store = new SyncStore(new Tables({ connectionString: azurite.connectionString }));

    const seeded: Array<{ repo: string; tag: string; digest: string }> = [];
    for (let i = 0; i < COPIES; i++) {
      seeded.push({ repo: `fan/r${i % REPOS}`, tag: `v${Math.floor(i / REPOS)}`, digest: "" });
    }
    await mapSettled(seeded, 8, async (s) => {
      const image = buildImage({ layers: [randomLayer(LAYER_KIB * 1024)] });
      await pushImage(up.host, s.repo, image, s.tag);
      s.digest = image.digest;
    });
    const repos = [...new Set(seeded.map((s) => s.repo))];

    const phase = async (name: string, k: number, prefix: string, before?: () => Promise<void>): Promise<Phase> => {
      const file = join(dir, `sync-${prefix}.yaml`);
      writeFileSync(
        file,
        [
          `target: { registry: "${acr.host}", prefix: ${prefix} }`,
          "images:",
          ...repos.map((r) => `  - { source: "${up.host}/${r}", allow: "v[0-9]+" }`),
        ].join("\n") + "\n",
      );
      const queue = `copy-${prefix}`;
      const { config } = await loadSyncConfigFile(file);
      const planned = await runSync({
        client,
        config,
        trigger: "timer",
        store,
        enqueue: (items, runId) => enqueueJson(azurite.connectionString, queue, toCopyMessages(items, runId)),
      });
      const queued = planned.results.filter((r) => r.action === "queued").length;
      if (queued !== COPIES) throw new Error(`${name}: expected ${COPIES} queued, got ${queued}`);
      await before?.();
      const env = {
        SYNC_CONFIG: file,
        SYNC_MODE: "queue",
        COPY_QUEUE_NAME: queue,
        TABLES_CONNECTION_STRING: azurite.connectionString,
        AZURITE_QUEUE_CONNECTION: azurite.connectionString,
        RATE_LIMIT_RESERVE: String(RESERVE),
        ACR_BULK_LISTING: "false",
      };
      const spawned = Date.now();
      const reports = await Promise.all(Array.from({ length: k }, () => startWorker(env)));
      const seconds = (Math.max(...reports.map((r) => r.lastDoneAt)) - spawned) / 1000;
      const copied = reports.flatMap((r) => r.copied);
      const skipped = reports.flatMap((r) => r.skipped);
      const targets = await mapSettled(seeded, 16, async (s) => {
        const head = await client.manifestHead(acr.host, `${prefix}/${s.repo}`, s.tag);
        return head?.digest === s.digest;
      });
      return {
        name,
        workers: k,
        seconds,
        copiesPerSecond: copied.length / seconds,
        copied: copied.length,
        skipped: skipped.length,
        doneTwice: copied.length - new Set(copied).size,
        verified: targets.filter((t) => t.status === "fulfilled" && t.value).length,
        queueLeft: await queueLength(azurite.connectionString, queue),
        poison: await queueLength(azurite.connectionString, `${queue}-poison`),
      };
    };

    const phases: Phase[] = [];
    for (const k of WORKERS) {
      const p = await phase(`${COPIES} copies`, k, `k${k}`);
      if (p.copied !== COPIES || p.doneTwice || p.verified !== COPIES || p.queueLeft || p.poison)
        throw new Error(`K=${k}: ${JSON.stringify(p)}`);
      phases.push(p);
    }
    // The shared quota: a stored reading of reserve + 50 pulls, 4 workers, 200 messages.
    const quota = await phase(`${COPIES} copies, ${RESERVE + QUOTA} pulls left`, 4, "q4", () =>
      store.saveLimit({
        host: up.host,
        remaining: RESERVE + QUOTA,
        resetAt: new Date(Date.now() + 3600_000).toISOString(),
        observedAt: new Date().toISOString(),
      }),
    );
    const left = (await store.limits()).get(up.host)?.remaining;
    if (quota.copied !== QUOTA || quota.skipped !== COPIES - QUOTA || left !== RESERVE)
      throw new Error(`quota: ${JSON.stringify({ ...quota, left })}`);
    phases.push(quota);

    const base = phases[0]!;
    printTable(
      phases.map((p) => ({
        phase: p.name,
        workers: String(p.workers),
        seconds: fmt(p.seconds),
        "copies/s": fmt(p.copiesPerSecond, 1),
        speedup: p === quota ? "" : `${fmt(base.seconds / p.seconds)}×`,
        copied: String(p.copied),
        skipped: String(p.skipped),
        "done twice": String(p.doneTwice),
        verified: String(p.verified),
        "poison queue": String(p.poison),
      })),
    );
    writeReport("fanout", {
      copies: COPIES,
      layerKiB: LAYER_KIB,
      reserve: RESERVE,
      quotaLeftAfter: left,
      node: process.version,
      phases,
    });
  } finally {
    await Promise.all(stoppers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
