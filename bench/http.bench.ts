/**
 * The cost of one registry request on this machine: N manifest HEADs against a local docker-registry, C at a time,
 * three ways in alternating rounds — Node's fetch, a bare `http.request` on a keep-alive agent (the floor for Node),
 * and our Transport (auth lookup, limiter, counting, retries on top of `http.request`). CPU is this process's own
 * (user + system) per request; wall time is shared with the registry on the same cores.
 * Prints a table and writes bench/results/http.json. BENCH_HTTP_REQUESTS and BENCH_HTTP_ROUNDS change the size.
 */
import { Agent, request } from "node:http";
import { RegistryClient } from "../shared/registry/client";
import { Transport } from "../shared/registry/transport";
import { buildImage, pushImage } from "../test/harness/images";
import { startRegistry } from "../test/harness/registry";
import { fmt, printTable, writeReport } from "./report";

const N = Number(process.env.BENCH_HTTP_REQUESTS ?? 2000);
const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 3);
const C = 8;

async function inParallel(fn: () => Promise<void>): Promise<void> {
  let left = N;
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (left-- > 0) await fn();
    }),
  );
}

async function main(): Promise<void> {
  const registry = await startRegistry();
  try {
    await pushImage(registry.host, "bench/http", buildImage(), "v1");
    const url = `http://${registry.host}/v2/bench/http/manifests/v1`;
    // distribution answers an OCI manifest only to a client that accepts it.
    const headers = { Accept: "application/vnd.oci.image.manifest.v1+json" };
    const agent = new Agent({ keepAlive: true, maxSockets: C });
    const client = new RegistryClient(new Transport({ maxPerHost: C }));
    const ways: Record<string, () => Promise<void>> = {
      "fetch (undici)": async () => {
        const res = await fetch(url, { method: "HEAD", headers, redirect: "manual" });
        if (res.status !== 200) throw new Error(`fetch: ${res.status}`);
      },
      "http.request, keep-alive": () =>
        new Promise<void>((resolve, reject) => {
          const req = request(url, { method: "HEAD", headers, agent }, (res) => {
            res.resume();
            if (res.statusCode !== 200) reject(new Error(`http: ${res.statusCode}`));
            else res.once("end", () => resolve());
          });
          req.once("error", reject);
          req.end();
        }),
      "our Transport (manifestHead)": async () => {
        if (!(await client.manifestHead(registry.host, "bench/http", "v1"))) throw new Error("transport: 404");
      },
    };
    const samples: Record<string, Array<{ cpuUs: number; wallMs: number }>> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, fn] of Object.entries(ways)) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await inParallel(fn);
        const cpu = process.cpuUsage(cpu0);
        (samples[name] ??= []).push({ cpuUs: (cpu.user + cpu.system) / N, wallMs: performance.now() - t0 });
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rows = Object.entries(samples).map(([way, s]) => ({
      way,
      cpuUsPerRequest: median(s.map((x) => x.cpuUs)),
      wallMs: median(s.map((x) => x.wallMs)),
      rounds: s,
    }));
    printTable(
      rows.map((r) => ({
        way: r.way,
        "CPU µs/request (median)": fmt(r.cpuUsPerRequest, 0),
        [`wall ms for ${N}`]: fmt(r.wallMs, 0),
        "CPU µs each round": r.rounds.map((x) => fmt(x.cpuUs, 0)).join(" "),
      })),
    );
    writeReport("http", { requests: N, concurrency: C, rounds: ROUNDS, node: process.version, ways: rows });
    agent.destroy();
  } finally {
    await registry.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
