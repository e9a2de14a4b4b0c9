/**
 * Crash recovery: a sync run in a child process is killed (SIGKILL) at 20 seeded points during its copies — the
 * k-th write request to reach the target registry — then the run is repeated. After each kill no tag points at
 * missing content; after each rerun every tag holds the upstream digest, the store says in-sync, and no blob,
 * manifest or tag was written twice (what was in flight at the kill is redone, nothing else). Two more kills land
 * in the recording phase (Table Storage writes). Rerun another schedule with CRASH_SEED=<n>.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport } from "../../shared/registry/transport";
import { RunLock } from "../../shared/store/runLock";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables, TABLES } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { LOCK_TTL_MS, runSync } from "../../shared/sync/executor";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { requestKey, seededUniform, startFaultProxy, type RunningFaultProxy } from "../harness/faultProxy";
import { buildImage, buildIndex, fetchManifest, pushImage, pushIndex } from "../harness/images";
import type { SeenRequest } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import {
  auditRegistry,
  completedWrites,
  reportFigures,
  seededLayer,
  transpileForChild,
  startTogether,
} from "./support";

const SEED = process.env.CRASH_SEED ?? "20";
const KILLS = 20;

let up: RunningRegistry;
let acr: RunningRegistry;
let acrProxy: RunningFaultProxy;
let tableProxy: RunningFaultProxy;
let azurite: RunningAzurite;
let child: { script: string; env: NodeJS.ProcessEnv; dir: string };
let work: string;
const expected = new Map<string, string>();
const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 5, maxDelayMs: 40 } }));

const IMAGES = ["multi-a", "multi-b", "single-a", "single-b"];
const isWrite = (req: { method: string }) => ["POST", "PUT", "PATCH", "DELETE", "MERGE"].includes(req.method);

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  acrProxy = await startFaultProxy(acr.host);
  tableProxy = await startFaultProxy(`127.0.0.1:${azurite.tablePort}`);
  child = transpileForChild(join(__dirname, "syncChild.ts"));
  work = mkdtempSync(join(tmpdir(), "ais-crash-"));
  const base = seededLayer(48 * 1024, "crash-base");
  for (const [i, name] of IMAGES.entries()) {
    const layers = (arch: string) => [
      base,
      seededLayer(96 * 1024 + i, `${name}-${arch}-1`),
      seededLayer(32 * 1024, `${name}-${arch}-2`),
    ];
    if (name.startsWith("multi")) {
      const index = buildIndex([
        buildImage({ layers: layers("amd64") }),
        buildImage({ layers: layers("arm64"), platform: { os: "linux", architecture: "arm64" } }),
      ]);
      await pushIndex(up.host, `crash/${name}`, index, "v1");
      await pushIndex(up.host, `crash/${name}`, index, "stable");
      expected.set(name, index.digest);
    } else {
      const image = buildImage({ layers: layers("amd64"), labels: { name } });
      await pushImage(up.host, `crash/${name}`, image, "v1");
      await pushImage(up.host, `crash/${name}`, image, "stable");
      expected.set(name, image.digest);
    }
  }
});
afterAll(async () => {
  await Promise.all([acrProxy?.stop(), tableProxy?.stop(), up?.stop(), acr?.stop(), azurite?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
  if (child) rmSync(child.dir, { recursive: true, force: true });
});

function configText(prefix: string): string {
  return [
    `target: { registry: "${acrProxy.host}", prefix: ${prefix} }`,
    "defaults: { concurrency: 4 }",
    "images:",
    // One tag per image: several tags of one image are copied side by side by the executor, which races on the
    // target (see concurrency.test.ts); that is a finding of its own, kept apart from crash recovery.
    ...IMAGES.map((n, i) => `  - { source: "${up.host}/crash/${n}", tags: ["v1"], pinTag: ${i === 2} }`),
  ].join("\n");
}

function writeConfig(prefix: string): string {
  const file = join(work, `${prefix}.yaml`);
  writeFileSync(file, configText(prefix));
  return file;
}

/** Runs the child until it exits or `killWhen` says so on a request reaching one of the proxies. */
async function runChild(
  configFile: string,
  connectionString: string,
  killWhen: { proxy: RunningFaultProxy; match: (req: SeenRequest) => boolean; nth: number; drop?: boolean },
): Promise<{ signal: NodeJS.Signals | null; code: number | null; killedAt?: string; stderr: string }> {
  const proc = spawn(process.execPath, [child.script, JSON.stringify({ configFile, connectionString })], {
    env: child.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  proc.stdout.resume();
  let seen = 0;
  let killedAt: string | undefined;
  killWhen.proxy.onRequest = (req) => {
    if (killedAt || !killWhen.match(req)) return;
    if (++seen === killWhen.nth) {
      killedAt = requestKey(req.method, req.path);
      proc.kill("SIGKILL");
      if (killWhen.drop) return "drop";
    }
    return undefined;
  };
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    proc.once("exit", (c, s) => resolve([c, s])),
  );
  killWhen.proxy.onRequest = undefined;
  // Let requests the registry was still answering when the child died finish (or fail) at the proxy.
  await new Promise((r) => setTimeout(r, 150));
  return { code, signal, stderr, ...(killedAt ? { killedAt } : {}) };
}

const statusKeyPrefix = (prefix: string) => `${acrProxy.host}/${prefix}/`;

describe(`crash recovery (seed ${SEED})`, () => {
  it(`survives ${KILLS} kills during copies: no tag ever points at missing content, each rerun converges without duplicate writes`, async () => {
    const tables = new Tables({ connectionString: azurite.connectionString });
    const store = new SyncStore(tables);

    // Calibrate: how many writes does a whole run make? Kill points are spread over that range.
    acrProxy.reset();
    const calibration = await runSync({
      client,
      config: parseSyncConfig(configText("cal"), "cal.yaml").config,
      trigger: "timer",
    });
    expect(calibration.run.failed).toBe(0);
    const totalWrites = acrProxy.exchanges.filter(isWrite).length;
    expect(totalWrites).toBeGreaterThan(30);

    const cycles: Array<Record<string, unknown>> = [];
    let lockHeldAfterCrash = false;
    for (let i = 0; i < KILLS; i++) {
      const prefix = `c${i}`;
      // Stratified: one kill point in each twentieth of the run, at a seeded place within it.
      // (Spread over all but the last few writes, so a run that happens to make one or two fewer still gets killed.)
      const nth = 1 + Math.floor(((i + seededUniform(SEED, "kill", i)) / KILLS) * (totalWrites - 4));
      const configFile = writeConfig(prefix);
      acrProxy.reset();
      const crash = await runChild(configFile, azurite.connectionString, { proxy: acrProxy, match: isWrite, nth });
      expect(crash.signal, `cycle ${i}: ${crash.stderr}`).toBe("SIGKILL");
      const childExchanges = [...acrProxy.exchanges];

      // After the kill: whatever is tagged is complete.
      const mine = (repo: string) => repo.startsWith(`${prefix}/`);
      const afterCrash = await auditRegistry(acr.host, mine);
      expect(afterCrash.problems, `cycle ${i}, killed at ${crash.killedAt}`).toEqual([]);

      // The dead run still holds the lock: a run now is skipped, one after the lease expires takes over.
      const config = parseSyncConfig(configText(prefix), `${prefix}.yaml`).config;
      if (i === 0) {
        const blocked = await runSync({ client, config, trigger: "timer", store, lock: new RunLock(tables) });
        lockHeldAfterCrash = blocked.skipped !== undefined;
        expect(blocked.skipped).toMatch(/lock/);
      }
      acrProxy.reset();
      const later = () => Date.now() + LOCK_TTL_MS + 60_000;
      const rerun = await runSync({ client, config, trigger: "timer", store, lock: new RunLock(tables, later) });
      expect(rerun.skipped).toBeUndefined();
      expect(rerun.run.failed, `cycle ${i}: ${rerun.run.errorSummary}`).toBe(0);
      const rerunExchanges = [...acrProxy.exchanges];

      // Converged: every tag holds the upstream digest, complete, and the store agrees.
      const afterRerun = await auditRegistry(acr.host, mine);
      expect(afterRerun.problems).toEqual([]);
      for (const name of IMAGES) {
        for (const tag of ["v1"]) {
          expect(
            (await fetchManifest(acr.host, `${prefix}/crash/${name}`, tag)).digest,
            `${prefix} ${name}:${tag}`,
          ).toBe(expected.get(name));
        }
      }
      const statuses = (await store.listStatuses()).filter((s) => s.key.startsWith(statusKeyPrefix(prefix)));
      expect(statuses).toHaveLength(IMAGES.length);
      expect(
        statuses.every(
          (s) => s.state === "in-sync" && s.targetDigest === expected.get(s.targetRepository.split("/").pop()!),
        ),
      ).toBe(true);

      // No duplicate work from the crash: nothing the dead run completed is written again by the rerun. (Writes
      // repeated inside one run are counted apart: see "one image, several tags" in concurrency.test.ts.)
      const child_ = completedWrites(childExchanges);
      const rerun_ = completedWrites(rerunExchanges);
      const duplicates = [...rerun_.keys()].filter((k) => child_.has(k));
      expect(duplicates, `cycle ${i}`).toEqual([]);
      const repeatedInRun = [...child_.values(), ...rerun_.values()].reduce((n, c) => n + (c - 1), 0);
      const inFlight = childExchanges.filter((e) => isWrite(e) && e.upstreamStatus === 0).length;
      cycles.push({
        cycle: i,
        killedAtWrite: nth,
        killedAt: crash.killedAt,
        tagsAfterCrash: afterCrash.tags.length,
        writesDoneByChild: [...child_.values()].reduce((a, b) => a + b, 0),
        writesInFlightAtKill: inFlight,
        writesDoneByRerun: [...rerun_.values()].reduce((a, b) => a + b, 0),
        imagesCopiedByRerun: rerun.run.copied,
        writesRepeatedWithinOneRun: repeatedInRun,
      });
    }

    reportFigures("crash", {
      seed: SEED,
      kills: KILLS,
      writesPerFullRun: totalWrites,
      lockHeldAfterCrash,
      incompleteTagsAfterCrash: 0,
      duplicateWrites: 0,
      cycles,
    });
  }, 170_000);

  /** Kills a child at its nth Table transaction (the request dropped), and lists run rows left without results. */
  async function killWhileRecording(
    nth: number,
    prefix: string,
  ): Promise<{ orphans: string[]; store: SyncStore; tables: Tables }> {
    const tables = new Tables({ connectionString: azurite.connectionString });
    const store = new SyncStore(tables);
    const proxied = azurite.connectionString.replace(
      `TableEndpoint=http://127.0.0.1:${azurite.tablePort}/`,
      `TableEndpoint=http://${tableProxy.host}/`,
    );
    tableProxy.reset();
    const batch = (req: SeenRequest) => req.method === "POST" && req.path.includes("$batch");
    const before = new Set((await store.listRuns(100)).map((r) => r.runId));
    const crash = await runChild(writeConfig(prefix), proxied, { proxy: tableProxy, match: batch, nth, drop: true });
    expect(crash.signal, crash.stderr).toBe("SIGKILL");
    expect((await auditRegistry(acr.host, (r) => r.startsWith(`${prefix}/`))).problems).toEqual([]);
    const orphans: string[] = [];
    for (const run of await store.listRuns(100)) {
      if (!before.has(run.runId) && (await store.listResults(run.runId)).length === 0) orphans.push(run.runId);
    }
    return { orphans, store, tables };
  }

  it("a kill while the run is being recorded leaves a store the next run repairs", async () => {
    const outcomes: Array<Record<string, unknown>> = [];
    // Kill at the first and at the second transaction: the results batch, then the statuses batch.
    for (const nth of [1, 2]) {
      const prefix = `rec${nth}`;
      const { orphans, store, tables } = await killWhileRecording(nth, prefix);
      const config = parseSyncConfig(configText(prefix), `${prefix}.yaml`).config;
      const later = () => Date.now() + LOCK_TTL_MS + 60_000;
      const rerun = await runSync({ client, config, trigger: "timer", store, lock: new RunLock(tables, later) });
      expect(rerun.run.failed).toBe(0);
      // Everything was copied before the kill: the rerun copies nothing, and the statuses are right again.
      expect(rerun.run.copied).toBe(0);
      const statuses = (await store.listStatuses()).filter((s) => s.key.startsWith(statusKeyPrefix(prefix)));
      expect(statuses.every((s) => s.state === "in-sync")).toBe(true);
      expect(statuses).toHaveLength(IMAGES.length);
      outcomes.push({ killedAtTransaction: nth, runRowsWithoutResults: orphans.length });
    }
    reportFigures("crash-recording", { outcomes, tables: [TABLES.runs, TABLES.results, TABLES.status] });
  }, 60_000);

  // BUG shared/sync/executor.ts runSync (record phase): the run row (SyncRuns) is written first, then the results
  // and the statuses. A crash in between leaves a run that says it finished (status, copied count) with no
  // results and stale statuses, for good. Expected: results and statuses first, the run row last, so a run row
  // means its record is whole. Flip to `it` once fixed.
  it("a run row is only ever stored with its results", async () => {
    const { orphans } = await killWhileRecording(1, "orphan");
    expect(orphans).toEqual([]);
  }, 30_000);
});
