import { describe, expect, it } from "vitest";
import { DockerfileError, parseDockerfile, type ParseOptions } from "../../shared/bases/dockerfile";
import { expandWord } from "../../shared/bases/expand";

const HEX = "b".repeat(64);
const DIGEST = `sha256:${HEX}`;

function df(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function errorOf(text: string, options: ParseOptions = {}): DockerfileError {
  try {
    parseDockerfile(text, { file: "app/Dockerfile", ...options });
  } catch (err) {
    if (err instanceof DockerfileError) return err;
    throw err;
  }
  throw new Error("expected a DockerfileError");
}

describe("parseDockerfile: bases", () => {
  it("reads a multi-stage build: stage references are not bases, the final stage's root is", () => {
    const parsed = parseDockerfile(
      df(
        "# syntax=docker/dockerfile:1",
        "FROM golang:1.22 AS build",
        "RUN go build ./...",
        "FROM build AS test",
        "FROM gcr.io/distroless/static:nonroot",
        "COPY --from=build /out /app",
      ),
    );
    expect(parsed.bases.map((b) => b.ref)).toEqual([
      "docker.io/library/golang:1.22",
      "gcr.io/distroless/static:nonroot",
    ]);
    expect(parsed.stages.map((s) => [s.name, s.base])).toEqual([
      ["build", { kind: "image", key: "docker.io/library/golang:1.22" }],
      ["test", { kind: "stage", index: 0 }],
      [undefined, { kind: "image", key: "gcr.io/distroless/static:nonroot" }],
    ]);
    expect(parsed.finalBase).toBe("gcr.io/distroless/static:nonroot");
    expect(parsed.bases[0]?.uses).toEqual([{ line: 2, via: "from", stage: 0, stageName: "build" }]);
  });

  it("follows stage references to find the final base, and matches stage names case-insensitively", () => {
    const parsed = parseDockerfile(df("FROM node:20 AS Base", "FROM BASE AS deps", "FROM deps"));
    expect(parsed.bases.map((b) => b.key)).toEqual(["docker.io/library/node:20"]);
    expect(parsed.stages.map((s) => s.name)).toEqual(["base", "deps", undefined]);
    expect(parsed.finalBase).toBe("docker.io/library/node:20");
  });

  it("substitutes ARG defaults, build-arg overrides and the :- / :+ forms", () => {
    const text = df(
      "ARG NODE_VERSION=20",
      "ARG REGISTRY",
      'ARG DISTRO="bookworm"',
      "ARG IMAGE=node:${NODE_VERSION}-${DISTRO}-slim",
      "FROM ${IMAGE} AS runtime",
      "FROM ${REGISTRY:-ghcr.io}/org/tool:v1${SUFFIX:+-$SUFFIX}",
      "ARG NODE_VERSION=99",
      "FROM node:$NODE_VERSION",
    );
    const plain = parseDockerfile(text);
    expect(plain.bases.map((b) => b.ref)).toEqual([
      "docker.io/library/node:20-bookworm-slim",
      "ghcr.io/org/tool:v1",
      "docker.io/library/node:20",
    ]);
    // The ARG inside a stage never reaches a FROM; a build arg replaces the global default.
    const overridden = parseDockerfile(text, { buildArgs: { NODE_VERSION: "22", REGISTRY: "quay.io" } });
    expect(overridden.bases.map((b) => b.ref)).toEqual([
      "docker.io/library/node:22-bookworm-slim",
      "quay.io/org/tool:v1",
      "docker.io/library/node:22",
    ]);
    expect(overridden.bases[0]?.written).toBe("${IMAGE}");
  });

  it("keeps --platform, expanded when known and as written when only the build knows it", () => {
    const parsed = parseDockerfile(
      df(
        "ARG ARCH=arm64",
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
        "FROM --platform=linux/${ARCH} alpine:3.20",
      ),
    );
    expect(parsed.bases.map((b) => b.uses[0]?.platform)).toEqual(["$BUILDPLATFORM", "linux/arm64"]);
  });

  it("keeps digests, with or without a tag, and defaults to latest only without either", () => {
    const parsed = parseDockerfile(
      df(`FROM node:20@${DIGEST} AS a`, `FROM quay.io/org/base@${DIGEST} AS b`, "FROM alpine AS c"),
    );
    expect(parsed.bases.map((b) => [b.key, b.tag, b.digest])).toEqual([
      ["docker.io/library/node:20", "20", DIGEST],
      [`quay.io/org/base@${DIGEST}`, undefined, DIGEST],
      ["docker.io/library/alpine:latest", "latest", undefined],
    ]);
    expect(parsed.bases[0]?.ref).toBe(`docker.io/library/node:20@${DIGEST}`);
  });

  it("ignores scratch, so an image built from nothing has no base", () => {
    const parsed = parseDockerfile(df("FROM golang:1.22 AS build", "FROM scratch", "COPY --from=build /app /app"));
    expect(parsed.bases.map((b) => b.key)).toEqual(["docker.io/library/golang:1.22"]);
    expect(parsed.stages[1]?.base).toEqual({ kind: "scratch" });
    expect(parsed.finalBase).toBeUndefined();
  });

  it("handles line continuations, comments inside them, the escape directive and lower-case keywords", () => {
    const continued = parseDockerfile(
      df(
        "# a comment",
        "FROM \\",
        "  # a comment inside the continuation",
        "  alpine:3.20 \\",
        "  AS base",
        "run echo hi",
      ),
    );
    expect(continued.bases.map((b) => [b.key, b.uses[0]?.line])).toEqual([["docker.io/library/alpine:3.20", 2]]);
    expect(continued.stages[0]?.name).toBe("base");
    const backtick = parseDockerfile(df("# escape=`", "from node:`", "20 as x"));
    expect(backtick.bases.map((b) => b.key)).toEqual(["docker.io/library/node:20"]);
  });

  it("counts COPY --from=<image> as a base and COPY --from=<stage or index> as not", () => {
    const parsed = parseDockerfile(
      df(
        "FROM alpine:3.20 AS one",
        "FROM debian:12",
        "COPY --from=one /a /a",
        "COPY --from=0 /b /b",
        "COPY --from=busybox:1.36 /bin/sh /sh",
      ),
    );
    expect(parsed.bases.map((b) => [b.key, b.uses[0]?.via])).toEqual([
      ["docker.io/library/alpine:3.20", "from"],
      ["docker.io/library/debian:12", "from"],
      ["docker.io/library/busybox:1.36", "copy"],
    ]);
  });

  it("merges repeated uses of one base", () => {
    const parsed = parseDockerfile(df("FROM node:20 AS a", "FROM docker.io/library/node:20 AS b"));
    expect(parsed.bases).toHaveLength(1);
    expect(parsed.bases[0]?.uses.map((u) => u.line)).toEqual([1, 2]);
  });
});

describe("parseDockerfile: broken syntax", () => {
  it("names the line of each problem, all at once", () => {
    const err = errorOf(df("FROM node:20", "FRM alpine", "FROM", "FROM a b c", "FROM alpine AS"));
    expect(err.issues.map((i) => [i.line, i.detail])).toEqual([
      [2, 'unknown instruction "FRM"'],
      [3, "FROM needs an image: FROM [--platform=…] <image> [AS <name>]"],
      [4, 'expected FROM [--platform=…] <image> [AS <name>], got "a b c"'],
      [5, 'expected FROM [--platform=…] <image> [AS <name>], got "alpine AS"'],
    ]);
    expect(err.message.split("\n")[0]).toBe('app/Dockerfile:2: unknown instruction "FRM"');
  });

  it("says when a trailing comment is the problem", () => {
    expect(errorOf(df("FROM alpine # base")).message).toMatch(
      /^app\/Dockerfile:1: .*a comment must be on a line of its own/,
    );
  });

  it("refuses an ARG without a default that a FROM needs, and says which", () => {
    const err = errorOf(df("ARG NODE_VERSION", "FROM node:${NODE_VERSION}-slim"));
    expect(err.issues).toEqual([
      {
        file: "app/Dockerfile",
        line: 2,
        detail:
          'FROM "node:${NODE_VERSION}-slim" (expands to "node:-slim") is not a valid image reference: "-slim" is not a valid tag: ARG NODE_VERSION has no value (give a default, or set buildArgs.NODE_VERSION)',
      },
    ]);
    expect(errorOf(df("ARG BASE", "FROM $BASE")).issues[0]?.detail).toMatch(
      /expands to an empty image name: ARG BASE has no value/,
    );
    // The value can come from the enrollment instead.
    expect(parseDockerfile(df("ARG BASE", "FROM $BASE"), { buildArgs: { BASE: "alpine:3.20" } }).bases[0]?.key).toBe(
      "docker.io/library/alpine:3.20",
    );
  });

  it("refuses unterminated substitutions and quotes, invalid references and unknown flags", () => {
    const err = errorOf(
      df("FROM node:${V", "FROM 'alpine", "FROM Alpine:3", "FROM --squash alpine", "FROM --platform alpine"),
    );
    expect(err.issues.map((i) => i.line)).toEqual([1, 2, 3, 4, 5]);
    expect(err.issues[0]?.detail).toMatch(/missing "}"/);
    expect(err.issues[1]?.detail).toMatch(/unterminated single quote/);
    expect(err.issues[2]?.detail).toMatch(/must be lower-case/);
    expect(err.issues[3]?.detail).toMatch(/unknown flag --squash/);
    expect(err.issues[4]?.detail).toMatch(/--platform needs a value/);
  });

  it("refuses instructions before FROM, duplicate stage names, forward stage references and files without FROM", () => {
    expect(errorOf(df("RUN echo", "FROM alpine")).issues[0]).toMatchObject({
      line: 1,
      detail: expect.stringMatching(/RUN before the first FROM/),
    });
    expect(errorOf(df("FROM alpine AS a", "FROM debian AS A")).issues[0]).toMatchObject({
      line: 2,
      detail: 'stage name "a" is already used on line 1',
    });
    expect(errorOf(df("FROM later", "FROM alpine AS later")).issues[0]).toMatchObject({
      line: 1,
      detail: expect.stringMatching(/names stage "later", which is defined later \(line 2\)/),
    });
    expect(errorOf(df("FROM alpine", "COPY --from=3 /a /a")).issues[0]?.detail).toMatch(/not an earlier stage/);
    expect(errorOf(df("# only a comment")).issues).toEqual([
      { file: "app/Dockerfile", line: 1, detail: "no FROM instruction" },
    ]);
  });
});

describe("expandWord", () => {
  const vars: Record<string, string> = { SET: "x", EMPTY: "" };
  const lookup = (n: string) => vars[n];
  const expand = (w: string) => expandWord(w, lookup);

  it("implements the modifiers with and without the colon", () => {
    expect(expand("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}|${SET:+a}|${EMPTY:+a}|${EMPTY+a}").value).toBe("d||d|a||a");
    expect(() => expand("${UNSET:?need it}")).toThrow("UNSET: need it");
    expect(() => expand("${SET/x/y}")).toThrow(/unsupported substitution/);
  });

  it("treats quotes and escapes like a shell word, and reports unset variables only when used", () => {
    expect(expand(`'$SET'"$SET"\\$SET$`).value).toBe("$SETx$SET$");
    expect(expand("${SET:-$OTHER}").unset).toEqual([]);
    expect(expand("${UNSET:-$OTHER}")).toEqual({ value: "", unset: ["OTHER"] });
    expect(expand("$UNSET$UNSET").unset).toEqual(["UNSET"]);
  });
});
