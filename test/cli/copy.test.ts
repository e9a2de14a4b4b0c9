import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../cli/main";
import { EXIT } from "../../cli/copyCommand";
import { buildImage, buildIndex, fetchManifest, pushIndex } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let source: RunningRegistry;
let target: RunningRegistry;
beforeAll(async () => {
  [source, target] = await startTogether(startRegistry(), startRegistry({ htpasswd: { ci: "cli-pass-987" } }));
});
afterAll(async () => Promise.all([source?.stop(), target?.stop()]));

async function run(args: string[], env: Record<string, string> = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let code: number;
  try {
    code = await runCli(["node", "acr-image-sync", ...args], {
      stdout: (l) => stdout.push(l),
      stderr: (l) => stderr.push(l),
    });
  } finally {
    process.env = saved;
  }
  return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
}

describe("acr-image-sync copy", () => {
  it("copies a multi-arch image with Docker config auth, progress on stderr and a JSON summary on stdout", async () => {
    const index = buildIndex([buildImage(), buildImage({ platform: { os: "linux", architecture: "arm64" } })]);
    await pushIndex(source.host, "demo/app", index, "1.2.3");
    const dockerDir = mkdtempSync(join(tmpdir(), "ais-docker-"));
    writeFileSync(
      join(dockerDir, "config.json"),
      JSON.stringify({ auths: { [target.host]: { auth: Buffer.from("ci:cli-pass-987").toString("base64") } } }),
    );
    const r = await run(["copy", `${source.host}/demo/app:1.2.3`, `${target.host}/mirror/app`, "--tag", "stable"], {
      DOCKER_CONFIG: dockerDir,
    });
    expect(r.code).toBe(EXIT.ok);
    const summary = JSON.parse(r.stdout) as { ok: boolean; digest: string; tags: { written: string[] } };
    expect(summary.ok).toBe(true);
    expect(summary.digest).toBe(index.digest);
    expect(summary.tags.written).toEqual(["stable"]);
    expect(r.stderr).toMatch(/tag stable written/);
    expect(r.stderr + r.stdout).not.toContain("cli-pass-987");
    const auth = () => `Basic ${Buffer.from("ci:cli-pass-987").toString("base64")}`;
    expect((await fetchManifest(target.host, "mirror/app", "stable", auth)).digest).toBe(index.digest);
  });

  it("defaults the target tag to the source tag", async () => {
    const index = buildIndex([buildImage()]);
    await pushIndex(source.host, "demo/plain", index, "v7");
    const other = await startRegistry();
    try {
      const r = await run(["copy", `${source.host}/demo/plain:v7`, `${other.host}/demo/plain`]);
      expect(r.code).toBe(EXIT.ok);
      expect((await fetchManifest(other.host, "demo/plain", "v7")).digest).toBe(index.digest);
    } finally {
      await other.stop();
    }
  });

  it("exits 2 on an invalid reference and 1 when the copy fails", async () => {
    const bad = await run(["copy", "UPPER/Case", `${target.host}/x`]);
    expect(bad.code).toBe(EXIT.badInput);
    expect(bad.stderr).toMatch(/invalid image reference "UPPER\/Case"/);
    const missing = await run(["copy", `${source.host}/demo/none:v1`, `${source.host}/demo/none2`]);
    expect(missing.code).toBe(EXIT.failed);
    expect(JSON.parse(missing.stdout).ok).toBe(false);
    const usage = await run(["copy", "only-one-arg"]);
    expect(usage.code).toBe(EXIT.badInput);
  });
});
