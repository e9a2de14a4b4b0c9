/**
 * Trace benchmark: the newest ARO-HCP fixture (44 image entries, 31 distinct references) traced for prod against
 * local registries (open, htpasswd and token auth, see test/trace/lab.ts), with the Traces and Labels caches on
 * Azurite. Phases: config load + merge + extraction alone; a cold trace without a store; a cold trace that fills the
 * store; the same trace again (served from Traces); another environment with the same images (served from Labels).
 * Prints a table and the figures as JSON. Run: `npm run build && node dist/bench/trace.bench.js` (BENCH_RUNS sets the
 * repetitions of the repeatable phases, default 5).
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { AuthManager } from "../shared/registry/auth";
import { RegistryClient } from "../shared/registry/client";
import { isLoopback, tallyRequests, Transport } from "../shared/registry/transport";
import { Tables } from "../shared/store/tables";
import { TraceStore } from "../shared/store/traceStore";
import { builtInCatalogue } from "../shared/trace/catalogue";
import { builtInServiceDefinition } from "../shared/trace/definition";
import { extractImages } from "../shared/trace/images";
import { loadMergedConfig, resolveContext } from "../shared/trace/service";
import { DirectoryConfigSource, GitConfigSource } from "../shared/trace/source";
import { traceImages, type TraceImagesOptions } from "../shared/trace/tracer";
import { startLab } from "../test/trace/lab";
import { printTable, writeReport } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// dist/bench → the repository → test/fixtures (vendored ARO-HCP configs, see test/fixtures/README.md).
const FIXTURES = process.env.TRACE_FIXTURES_DIR ?? path.resolve(__dirname, "../../test/fixtures");
const NEWEST = { dir: path.join(FIXTURES, "aro-hcp"), commit: "c3f02f9ef9f19429f4b259f65ab2e32fd3e32773" };
// Azurite's published development key: not a secret.
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

interface Phase {
  phase: string;
  runs: number;
  medianMs: number;
  minMs: number;
  requests: number;
  byKind: Record<string, number>;
  cached: boolean | null;
  components: number | null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Azurite's table service alone (the test harness resolves Azurite from the source tree, not from dist/). */
async function startTables(): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const port = await freePort();
  const bin = require.resolve("azurite/dist/src/table/main.js");
  const child = spawn(
    process.execPath,
    [
      bin,
      "--tableHost",
      "127.0.0.1",
      "--tablePort",
      String(port),
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--skipApiVersionCheck",
    ],
    { stdio: "ignore" },
  );
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error("azurite table service did not start");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const connectionString = [
    "DefaultEndpointsProtocol=http",
    "AccountName=devstoreaccount1",
    `AccountKey=${AZURITE_KEY}`,
    `TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1`,
  ].join(";");
  return { connectionString, stop };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main(): Promise<void> {
  const started = Date.now();
  const [lab, tables] = await Promise.all([startLab({ fixtures: [NEWEST] }), startTables()]);
  const setupSeconds = (Date.now() - started) / 1000;
  const phases: Phase[] = [];
  try {
    const definition = await builtInServiceDefinition("aro-hcp");
    const catalogue = await builtInCatalogue(definition);
    const source = new GitConfigSource(lab.repo);
    const commit = lab.commitOf.get(NEWEST.commit) ?? "";
    // A fresh client per run: no token cached from an earlier phase.
    const client = () =>
      new RegistryClient(
        new Transport({ auth: new AuthManager({ credentials: lab.credentials, allowPlainHttp: isLoopback }) }),
      );
    const base = (): TraceImagesOptions => ({
      source,
      definition,
      catalogue,
      commit,
      environment: "prod",
      client: client(),
      registryMap: lab.registryMap,
    });

    const timed = async (
      phase: string,
      runs: number,
      fn: () => Promise<{ cached: boolean; components: number } | null>,
    ): Promise<void> => {
      const times: number[] = [];
      let last: Awaited<ReturnType<typeof tallyRequests<{ cached: boolean; components: number } | null>>> | undefined;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        last = await tallyRequests(fn);
        times.push(performance.now() - t0);
      }
      const json = last?.requests.toJSON();
      phases.push({
        phase,
        runs,
        medianMs: Math.round(median(times) * 10) / 10,
        minMs: Math.round(Math.min(...times) * 10) / 10,
        requests: json?.total ?? 0,
        byKind: { ...(json?.byKind ?? {}) } as Record<string, number>,
        cached: last?.result?.cached ?? null,
        components: last?.result?.components ?? null,
      });
    };
    const summary = (t: { cached: boolean; components: unknown[] }) => ({
      cached: t.cached,
      components: t.components.length,
    });

    await timed("config: git read + parse + merge + layer + extract", RUNS, async () => {
      const merged = await loadMergedConfig(source, definition, commit);
      const loaded = resolveContext(merged, { environment: "prod" });
      extractImages(loaded.config, { schema: loaded.schema });
      return null;
    });
    const directory = new DirectoryConfigSource(NEWEST.dir);
    await timed("config: files from disk (no git) + parse + merge + layer + extract", RUNS, async () => {
      const loaded = resolveContext(await loadMergedConfig(directory, definition, commit), { environment: "prod" });
      extractImages(loaded.config, { schema: loaded.schema });
      return null;
    });
    const merged = await loadMergedConfig(source, definition, commit);
    await timed("config: layer + extract only (already merged)", RUNS, async () => {
      const loaded = resolveContext(merged, { environment: "prod" });
      extractImages(loaded.config, { schema: loaded.schema });
      return null;
    });
    await timed("trace, cold, no store", RUNS, async () => summary(await traceImages(base())));
    const store = new TraceStore(new Tables({ connectionString: tables.connectionString }));
    await store.getLabels("sha256:" + "0".repeat(64)); // creates the tables outside the timed phases
    await timed("trace, cold, filling Traces + Labels", 1, async () =>
      summary(await traceImages({ ...base(), store })),
    );
    await timed("trace, cached (Traces hit)", RUNS, async () => summary(await traceImages({ ...base(), store })));
    await timed("trace of stg, same images (Labels hits)", 1, async () =>
      summary(await traceImages({ ...base(), environment: "stg", store })),
    );
  } finally {
    await Promise.all([lab.stop(), tables.stop()]);
  }

  console.log(`lab setup (3 registries, token server, Azurite, images seeded): ${setupSeconds.toFixed(1)} s`);
  printTable(
    phases.map((p) => ({
      phase: p.phase,
      runs: String(p.runs),
      "median ms": p.medianMs.toFixed(1),
      "min ms": p.minMs.toFixed(1),
      requests: String(p.requests),
      cached: p.cached === null ? "" : String(p.cached),
      "requests by kind": Object.entries(p.byKind)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
    })),
  );
  writeReport("trace", {
    benchmark: "trace",
    fixture: NEWEST.commit,
    environment: "prod",
    node: process.version,
    setupSeconds,
    phases,
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
