import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtInServiceDefinition } from "../../shared/trace/definition";
import {
  CommitNotFoundError,
  ConfigSourceError,
  InvalidCommitError,
  InvalidPathError,
} from "../../shared/trace/errors";
import { extractImages } from "../../shared/trace/images";
import { loadMergedConfig, loadServiceConfig } from "../../shared/trace/service";
import { GitConfigSource } from "../../shared/trace/source";
import { actualFor, expectedFor, FIXTURE_COMMITS, readOracle } from "./fixtures";

const CONFIG_FILES = ["config.yaml", "config.msft.clouds-overlay.yaml", "config.schema.json"];

// One repository, one commit per fixture (oldest first), then one that deletes the overlay: the shape of real history.
let repo = "";
const commitOf = new Map<string, string>();
let overlayDeleted = "";

function git(...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Trace Test", "-c", "user.email=trace@example.invalid", ...args], {
    cwd: repo,
    encoding: "utf8",
  }).trim();
}

beforeAll(() => {
  repo = mkdtempSync(path.join(tmpdir(), "trace-git-"));
  git("init", "--quiet");
  // FIXTURE_COMMITS lists the newest first, then the history in date order.
  const oldestFirst = [...FIXTURE_COMMITS.slice(1), ...FIXTURE_COMMITS.slice(0, 1)];
  for (const fixture of oldestFirst) {
    mkdirSync(path.join(repo, "config"), { recursive: true });
    for (const file of CONFIG_FILES) cpSync(path.join(fixture.dir, "config", file), path.join(repo, "config", file));
    git("add", "config");
    git("commit", "--quiet", "--allow-empty", "-m", `fixture ${fixture.commit}`);
    commitOf.set(fixture.commit, git("rev-parse", "HEAD"));
  }
  git("rm", "--quiet", "config/config.msft.clouds-overlay.yaml");
  git("commit", "--quiet", "-m", "drop overlay");
  overlayDeleted = git("rev-parse", "HEAD");
});

afterAll(() => {
  if (repo) rmSync(repo, { recursive: true, force: true });
});

describe("GitConfigSource", () => {
  it.each(FIXTURE_COMMITS)("loads fixture $commit by commit and extracts the oracle's images", async (fixture) => {
    const oracle = readOracle(fixture.dir);
    const source = new GitConfigSource(repo);
    const definition = await builtInServiceDefinition("aro-hcp");
    const commit = commitOf.get(fixture.commit) ?? "";
    for (const context of Object.keys(oracle.environments)) {
      const [cloud = "", environment = ""] = context.split("/");
      const loaded = await loadServiceConfig(source, definition, commit, { cloud, environment });
      const images = extractImages(loaded.config, { schema: loaded.schema });
      expect(actualFor(images)).toEqual(expectedFor(oracle, context));
    }
  });

  it("accepts an abbreviated commit", async () => {
    const full = commitOf.get(FIXTURE_COMMITS[0]!.commit) ?? "";
    const text = await new GitConfigSource(repo).readFile(full.slice(0, 7), "config/config.yaml");
    expect(text).toMatch(/^\$schema: config\.schema\.json/);
  });

  it("skips and reports an overlay missing at a commit", async () => {
    const merged = await loadMergedConfig(
      new GitConfigSource(repo),
      await builtInServiceDefinition("aro-hcp"),
      overlayDeleted,
    );
    expect(merged.files).toEqual(["config/config.yaml"]);
    expect(merged.skippedFiles).toEqual([
      { path: "config/config.msft.clouds-overlay.yaml", reason: "not present at this commit" },
    ]);
    // Without the overlay the public cloud's environments are gone, and the error says what is left.
    expect(merged.contexts.every((c) => c.cloud === "dev")).toBe(true);
  });

  it("returns null for a missing file", async () => {
    expect(await new GitConfigSource(repo).readFile(overlayDeleted, "config/nope.yaml")).toBeNull();
  });

  it("distinguishes an unknown commit from a missing file", async () => {
    await expect(new GitConfigSource(repo).readFile("0123456789abcdef", "config/config.yaml")).rejects.toThrow(
      CommitNotFoundError,
    );
  });

  it("says so when the directory is not a git repository, rather than blaming the commit", async () => {
    const plain = mkdtempSync(path.join(tmpdir(), "trace-nogit-"));
    try {
      const attempt = new GitConfigSource(plain).readFile("0123456789abcdef", "config/config.yaml");
      await expect(attempt).rejects.toThrow(ConfigSourceError);
      await expect(attempt).rejects.toThrow(/not a usable git repository/);
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
  });

  it("refuses malformed commits and path tricks before running git", async () => {
    const source = new GitConfigSource(repo);
    for (const commit of ["HEAD", "main", "--output=/tmp/x", "abc", "a".repeat(41), "abcdefg; rm"]) {
      await expect(source.readFile(commit, "config/config.yaml")).rejects.toThrow(InvalidCommitError);
    }
    for (const file of ["../etc/passwd", "config/../../x", "/etc/passwd", "config//x", "C:/x", "config\\x", ""]) {
      await expect(source.readFile(overlayDeleted, file)).rejects.toThrow(InvalidPathError);
    }
  });
});
