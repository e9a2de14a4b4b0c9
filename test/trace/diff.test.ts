import { describe, expect, it } from "vitest";
import { diffTraces } from "../../shared/trace/diff";
import type { TraceComponent, TraceResponse } from "../../shared/trace/response";

function component(
  path: string,
  digit: string,
  sha: string | null,
  extra: Partial<TraceComponent> = {},
): TraceComponent {
  return {
    name: path,
    registry: "quay.io",
    repository: `org/${path}`,
    digest: `sha256:${digit.repeat(64)}`,
    source_sha: sha,
    source_repo_url: "https://github.com/org/repo",
    error: null,
    path,
    status: "pinned",
    tag: null,
    note: null,
    error_kind: null,
    source_sha_from: sha ? "vcs-ref" : null,
    source_repo_from: "catalogue",
    source_url: null,
    platform: null,
    created: null,
    read_from: null,
    ...extra,
  };
}

function trace(environment: string, components: TraceComponent[], errors: string[] = []): TraceResponse {
  return {
    commit_sha: "a".repeat(40),
    environment,
    components,
    errors,
    ref: null,
    cloud: "public",
    region: null,
    service: "svc",
    environment_specific: true,
    warnings: [],
    summary: { components: components.length, pinned: components.length, traced: 0, failed: errors.length },
    cached: false,
    traced_at: "2026-01-01T00:00:00.000Z",
    config: { source: "x", files: [], skipped_files: [], schema_file: null },
  };
}

describe("diffTraces", () => {
  it("lists changed, added and removed components by path, with compare links", () => {
    const a = trace("int", [
      component("same", "1", "1111111"),
      component("moved", "2", "2222222"),
      component("gone", "3", null),
    ]);
    const b = trace("prod", [
      component("same", "1", "1111111"),
      component("moved", "4", "4444444"),
      component("new", "5", null),
    ]);
    const diff = diffTraces(a, b);
    expect(diff.unchanged).toEqual(["same"]);
    expect(diff.changed.map((c) => [c.path, c.change])).toEqual([
      ["moved", "changed"],
      ["new", "added"],
      ["gone", "removed"],
    ]);
    expect(diff.changed[0]).toMatchObject({
      old_digest: `sha256:${"2".repeat(64)}`,
      new_digest: `sha256:${"4".repeat(64)}`,
      old_source_sha: "2222222",
      new_source_sha: "4444444",
      source_changed: true,
      compare_url: "https://github.com/org/repo/compare/2222222...4444444",
    });
    expect(diff.changed[1]).toMatchObject({ old_digest: null, compare_url: null, source_changed: null });
  });

  it("tells a rebuild of the same commit from a new commit, short and long forms alike", () => {
    const diff = diffTraces(
      trace("int", [component("x", "1", "8289751")]),
      trace("prod", [component("x", "2", "8289751c0ffee0000000000000000000000000000")]),
    );
    expect(diff.changed[0]).toMatchObject({ source_changed: false, compare_url: null });
  });

  it("gives no compare link across repositories, and counts a moved repository as a change", () => {
    const diff = diffTraces(
      trace("int", [component("x", "1", "1111111", { source_repo_url: "https://github.com/org/old" })]),
      trace("prod", [component("x", "1", "2222222", { repository: "org/renamed" })]),
    );
    expect(diff.changed[0]).toMatchObject({
      old_repository: "org/x",
      new_repository: "org/renamed",
      compare_url: null,
    });
  });

  it("keeps both sides' errors, labelled", () => {
    const diff = diffTraces(trace("int", [], ["A (a.image): boom"]), trace("prod", [], ["B (b.image): bang"]));
    expect(diff.errors).toEqual([
      `aaaaaaaaaaaa public/int: A (a.image): boom`,
      `aaaaaaaaaaaa public/prod: B (b.image): bang`,
    ]);
  });
});
