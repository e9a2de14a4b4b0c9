/**
 * docs/local.md, run as written: every line of its plain `sh` blocks, in order, in an empty folder, against two local
 * registries that stand where the page says 127.0.0.1:5000 and 127.0.0.1:5001 are, with the embedded local store.
 * Blocks marked `sh setup` are what this harness does itself (build, start registries, push images). A line this
 * runner does not understand fails the test, so the page cannot grow commands nobody runs.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../cli/main";
import { buildImage, pushImage } from "../harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

const DOC = resolve(__dirname, "../../docs/local.md");
const EXAMPLE = resolve(__dirname, "../../examples/sync.local.yaml");

interface Step {
  line: string;
  heredoc?: { file: string; text: string };
  expectExit: number;
}

/** The plain `sh` blocks of the page as steps; heredocs (`cat > f <<'EOF'`) become file writes. */
function docSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  const blocks = [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  for (const block of blocks) {
    const lines = block.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!;
      const heredoc = /^cat > (\S+) <<'EOF'$/.exec(raw.trim());
      if (heredoc) {
        const end = lines.indexOf("EOF", i + 1);
        if (end < 0) throw new Error(`unterminated heredoc in docs/local.md: ${raw}`);
        steps.push({
          line: raw,
          heredoc: { file: heredoc[1]!, text: lines.slice(i + 1, end).join("\n") + "\n" },
          expectExit: 0,
        });
        i = end;
        continue;
      }
      const [command = "", comment = ""] = raw.split(/\s+#\s*/, 2);
      if (!command.trim()) continue;
      const expectExit = Number(/^exits (\d+)/.exec(comment)?.[1] ?? 0);
      steps.push({ line: command.trim(), expectExit });
    }
  }
  return steps;
}

let upstream: RunningRegistry;
let mirror: RunningRegistry;
let home: string;
const saved = { ...process.env };
const savedCwd = process.cwd();

beforeAll(async () => {
  [upstream, mirror] = await startTogether(startRegistry(), startRegistry());
  // What the page's setup block does: three releases of team/api upstream.
  for (const tag of ["1.8", "1.9", "1.10"]) await pushImage(upstream.host, "team/api", buildImage(), tag);
  home = mkdtempSync(join(tmpdir(), "local-doc-"));
  mkdirSync(join(home, "data"));
  for (const name of Object.keys(process.env)) {
    if (/^(TABLES_|SYNC_|KEYVAULT_|LOCAL_SECRETS_DIR|TRACE_)/.test(name)) delete process.env[name];
  }
  process.env.XDG_DATA_HOME = join(home, "data");
  process.chdir(home);
});

afterAll(async () => {
  process.chdir(savedCwd);
  process.env = saved;
  await Promise.all([upstream?.stop(), mirror?.stop()]);
});

describe.skipIf(!registryAvailable())("docs/local.md", () => {
  it("its config is examples/sync.local.yaml, word for word", () => {
    const config = docSteps(readFileSync(DOC, "utf8")).find((s) => s.heredoc?.file === "sync.yaml");
    expect(config?.heredoc?.text).toBe(readFileSync(EXAMPLE, "utf8"));
  });

  it("runs every command of the page, with the exit codes it states, and status shows what the sync did", async () => {
    const hosts = (text: string) =>
      text.replaceAll("127.0.0.1:5000", upstream.host).replaceAll("127.0.0.1:5001", mirror.host);
    const ran: string[] = [];
    let lastStdout: string[] = [];
    for (const step of docSteps(readFileSync(DOC, "utf8"))) {
      const line = hosts(step.line);
      if (step.heredoc) {
        writeFileSync(step.heredoc.file, hosts(step.heredoc.text));
      } else if (/^mkdir \S+$/.test(line)) {
        mkdirSync(line.slice(6));
      } else if (/^cd \S+$/.test(line)) {
        process.chdir(line.slice(3));
      } else if (line.startsWith("acr-image-sync ")) {
        const stdout: string[] = [];
        const stderr: string[] = [];
        const code = await runCli(["node", "acr-image-sync", ...line.split(/\s+/).slice(1)], {
          stdout: (l) => stdout.push(l),
          stderr: (l) => stderr.push(l),
        });
        expect(code, `${line}\n${stderr.join("\n")}`).toBe(step.expectExit);
        lastStdout = stdout;
      } else {
        throw new Error(`docs/local.md has a command this test does not run: ${step.line}`);
      }
      ran.push(step.line);
    }
    expect(ran.filter((l) => l.startsWith("acr-image-sync"))).toEqual([
      "acr-image-sync init --target 127.0.0.1:5001",
      "acr-image-sync plan --exit-code",
      "acr-image-sync sync",
      "acr-image-sync status --exit-code",
    ]);
    // The last command was status: the two newest releases are recorded in sync, the oldest never selected.
    const status = lastStdout.join("\n");
    expect(status).toMatch(new RegExp(`in-sync .*${mirror.host}/team/api:1\\.10`));
    expect(status).toMatch(new RegExp(`in-sync .*${mirror.host}/team/api:1\\.9`));
    expect(status).not.toMatch(/team\/api:1\.8/);
    expect(status).toMatch(/2 tags, 0 outdated, 0 errors; last run \S+ succeeded/);
  });
});
