import { describe, expect, it } from "vitest";
import {
  DIFF_IMAGES_TOOL,
  errorResponse,
  parseDiffBody,
  parseDiffQuery,
  parseTraceBody,
  parseTraceQuery,
  TRACE_IMAGES_TOOL,
} from "../../shared/trace/api";
import {
  BaseFileMissingError,
  CommitNotFoundError,
  ConfigFileError,
  InvalidInputError,
  TraceInputError,
} from "../../shared/trace/errors";
import { parseRegistryMap, readFrom } from "../../shared/trace/registryMap";

const SHA = "21f3f7a7d163a2dad380f101869dc97a35b004a2";

describe("trace input", () => {
  it("reads the query, ignoring parameters it does not know (such as a function key)", () => {
    const query = new URLSearchParams({ commit: SHA.toUpperCase(), environment: "prod", region: "eastus2", code: "k" });
    expect(parseTraceQuery(query)).toEqual({ commit: SHA, environment: "prod", region: "eastus2" });
    expect(parseTraceQuery(new URLSearchParams({ commit_sha: "main", environment: "int", cloud: "" }))).toEqual({
      commit: "main",
      environment: "int",
    });
  });

  it("reads the seed's POST body and MCP arguments", () => {
    expect(parseTraceBody({ commit_sha: "abc1234", environment: "prod" })).toEqual({
      commit: "abc1234",
      environment: "prod",
    });
    expect(parseTraceBody({ commit: "abc1234", commit_sha: "abc1234", environment: "prod", cloud: null })).toEqual({
      commit: "abc1234",
      environment: "prod",
    });
  });

  it("refuses what could be a trick, naming the field", () => {
    const bad: Array<[unknown, string]> = [
      [null, "body"],
      [[], "body"],
      [{ environment: "prod" }, "commit"],
      [{ commit_sha: "abc1234" }, "environment"],
      [{ commit_sha: 1234567, environment: "prod" }, "commit_sha"],
      [{ commit_sha: "abc1234", commit: "abc1235", environment: "prod" }, "commit"],
      [{ commit_sha: "abc1234", environment: "../prod" }, "environment"],
      [{ commit_sha: "abc1234", environment: "prod", cloud: "pub lic" }, "cloud"],
      [{ commit_sha: "abc1234", environment: "prod", region: "x".repeat(64) }, "region"],
      [{ commit_sha: "abc1234", environment: ["prod"] }, "environment"],
    ];
    for (const [body, field] of bad) {
      let error: unknown;
      try {
        parseTraceBody(body);
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(body)).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).field).toBe(field);
    }
    for (const commit of [
      "--upload-pack=x",
      "a..b",
      "HEAD^",
      "x:y",
      "refs/heads/",
      "a//b",
      "v1.lock",
      ".hidden",
      "é",
    ]) {
      expect(() => parseTraceBody({ commit_sha: commit, environment: "prod" }), commit).toThrow(TraceInputError);
    }
    expect(() => parseTraceQuery(new URLSearchParams("commit=abc1234&environment=a&environment=b"))).toThrow(
      /given more than once/,
    );
  });
});

describe("diff input", () => {
  it("defaults the second side to the first, and inherits cloud and region only within one environment", () => {
    const envs = parseDiffQuery(
      new URLSearchParams({
        commit: SHA,
        environment: "int",
        cloud: "public",
        region: "uksouth",
        environment_b: "dev",
      }),
    );
    expect(envs.to).toEqual({ commit: SHA, environment: "dev" });
    const commits = parseDiffBody({ commit_sha: SHA, commit_sha_b: "main", environment: "prod", cloud: "public" });
    expect(commits.to).toEqual({ commit: "main", environment: "prod", cloud: "public" });
  });

  it("refuses a diff of a side with itself", () => {
    expect(() => parseDiffBody({ commit_sha: SHA, environment: "prod" })).toThrow(/both sides are the same/);
    expect(() => parseDiffBody({ commit_sha: SHA, environment: "prod", environment_b: "prod" })).toThrow(
      InvalidInputError,
    );
  });
});

describe("error responses", () => {
  it("maps input errors to 400, a missing base file to 404, and hides anything unexpected", () => {
    expect(errorResponse(new CommitNotFoundError("abc1234", "git repository /x"))).toMatchObject({
      status: 400,
      body: { kind: "CommitNotFoundError" },
    });
    expect(errorResponse(new BaseFileMissingError("config/config.yaml", "abc1234", "src")).status).toBe(404);
    expect(errorResponse(new ConfigFileError("config.yaml", 3, 1, "bad")).body.error).toBe("config.yaml:3:1: bad");
    expect(errorResponse(new Error("connection string AccountKey=secret"))).toEqual({
      status: 500,
      body: { error: "internal error", kind: "InternalError" },
    });
  });
});

describe("MCP tool descriptions", () => {
  it("describe every argument the parsers read, with the required ones marked", () => {
    expect(TRACE_IMAGES_TOOL.toolName).toBe("trace_images");
    expect(TRACE_IMAGES_TOOL.toolProperties.filter((p) => p.isRequired).map((p) => p.propertyName)).toEqual([
      "commit_sha",
      "environment",
    ]);
    const args = Object.fromEntries(DIFF_IMAGES_TOOL.toolProperties.map((p) => [p.propertyName, "x1"]));
    // Every advertised argument is one the parser accepts (an unknown name would simply be ignored).
    expect(
      parseDiffBody({
        ...args,
        commit_sha: SHA,
        commit_sha_b: "main",
        environment_b: "x2",
        cloud_b: "c",
        region_b: "r",
      }),
    ).toEqual({
      from: { commit: SHA, environment: "x1", cloud: "x1", region: "x1" },
      to: { commit: "main", environment: "x2", cloud: "c", region: "r" },
    });
  });
});

describe("registry map", () => {
  it("parses from=to items and rewrites only the hosts it names", () => {
    const map = parseRegistryMap(["Quay.io=127.0.0.1:5000", "arohcpsvcdev.azurecr.io=mirror.example.com,"]);
    expect(readFrom(map, "quay.io")).toBe("127.0.0.1:5000");
    expect(readFrom(map, "QUAY.IO")).toBe("127.0.0.1:5000");
    expect(readFrom(map, "quay.io.evil.example")).toBe("quay.io.evil.example");
    expect(readFrom(map, "__proto__")).toBe("__proto__");
    for (const bad of ["quay.io", "=x", "quay.io=", "quay.io=http://x", "a/b=c"]) {
      expect(() => parseRegistryMap([bad]), bad).toThrow(InvalidInputError);
    }
  });
});
