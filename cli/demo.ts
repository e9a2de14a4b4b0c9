/**
 * `npm run demo`: the main job on an embedded local default, with no Azure account. Starts two local registries
 * (an "upstream" and a stand-in for ACR), seeds images, copies them through the same CLI code a user runs, shows that
 * a repeat costs only HEADs, and stops everything it started.
 */
import { execFileSync } from "node:child_process";
import { runCli } from "./main";
import { buildImage, buildIndex, pushIndex, pushImage, randomLayer } from "../test/harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../test/harness/registry";

function ensureRegistryBinary(): void {
  if (registryAvailable()) return;
  const allowed = process.env.DEMO_APT !== "0" && process.getuid?.() === 0;
  if (!allowed) {
    throw new Error(
      "the demo needs Debian's docker-registry: run `sudo apt-get install -y docker-registry` (or set DOCKER_REGISTRY_BIN)",
    );
  }
  process.stderr.write("installing docker-registry with apt-get (set DEMO_APT=0 to refuse)…\n");
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "-qq", "docker-registry"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

async function main(): Promise<void> {
  ensureRegistryBinary();
  const started: RunningRegistry[] = [];
  try {
    const [upstream, acr] = await Promise.all([startRegistry(), startRegistry()]);
    started.push(upstream, acr);
    console.log(`upstream registry: http://${upstream.host}   target (ACR stand-in): http://${acr.host}\n`);
    const base = randomLayer(256 * 1024);
    const index = buildIndex([
      buildImage({
        layers: [base, randomLayer(64 * 1024)],
        labels: { "vcs-ref": "4f2a9c1", "vcs-url": "https://github.com/example/app" },
      }),
      buildImage({
        layers: [base, randomLayer(64 * 1024)],
        labels: { "vcs-ref": "4f2a9c1" },
        platform: { os: "linux", architecture: "arm64", variant: "v8" },
      }),
    ]);
    await pushIndex(upstream.host, "example/app", index, "1.2.3");
    await pushImage(
      upstream.host,
      "example/worker",
      buildImage({ layers: [base, randomLayer(32 * 1024)] }),
      "main-abc1234",
    );

    const copies: Array<[string, string[]]> = [
      [`${upstream.host}/example/app:1.2.3`, [`${acr.host}/mirror/example/app`, "--tag", "1.2.3", "stable"]],
      [`${upstream.host}/example/worker:main-abc1234`, [`${acr.host}/mirror/example/worker`]],
    ];
    for (const round of ["first copy", "repeat (nothing changed)"]) {
      console.log(`== ${round}`);
      for (const [source, rest] of copies) {
        const lines: string[] = [];
        const code = await runCli(["node", "acr-image-sync", "copy", source, ...rest], {
          stdout: (l) => lines.push(l),
          stderr: (l) => console.log(`  ${l}`),
        });
        const summary = JSON.parse(lines.join("\n")) as {
          digest: string;
          bytes: number;
          requests: { total: number; byKind: object };
          tags: object;
        };
        console.log(
          `  → exit ${code}, ${summary.digest.slice(0, 19)}…, ${summary.bytes} bytes, ${summary.requests.total} requests ${JSON.stringify(summary.requests.byKind)}, tags ${JSON.stringify(summary.tags)}\n`,
        );
        if (code !== 0) process.exitCode = code;
      }
    }
  } finally {
    await Promise.all(started.map((r) => r.stop()));
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
