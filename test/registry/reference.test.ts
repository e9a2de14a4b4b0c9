import { describe, expect, it } from "vitest";
import { InvalidReferenceError, apiHost, formatReference, parseReference } from "../../shared/registry/reference";

const D = `sha256:${"ab".repeat(32)}`;

describe("parseReference", () => {
  it.each([
    ["nginx", { registry: "docker.io", repository: "library/nginx" }],
    ["nginx:1", { registry: "docker.io", repository: "library/nginx", tag: "1" }],
    ["library/nginx", { registry: "docker.io", repository: "library/nginx" }],
    ["bitnami/redis:7.2", { registry: "docker.io", repository: "bitnami/redis", tag: "7.2" }],
    ["docker.io/nginx", { registry: "docker.io", repository: "library/nginx" }],
    ["index.docker.io/library/nginx:latest", { registry: "docker.io", repository: "library/nginx", tag: "latest" }],
    ["registry-1.docker.io/a/b", { registry: "docker.io", repository: "a/b" }],
    ["ghcr.io/a/b:tag", { registry: "ghcr.io", repository: "a/b", tag: "tag" }],
    ["host:5000/a/b:tag", { registry: "host:5000", repository: "a/b", tag: "tag" }],
    ["localhost/a", { registry: "localhost", repository: "a" }],
    ["127.0.0.1:5000/a", { registry: "127.0.0.1:5000", repository: "a" }],
    [`a/b@${D}`, { registry: "docker.io", repository: "a/b", digest: D }],
    [`a/b:tag@${D}`, { registry: "docker.io", repository: "a/b", tag: "tag", digest: D }],
    [
      "mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.11",
      { registry: "mcr.microsoft.com", repository: "oss/v2/kubernetes/coredns", tag: "v1.11" },
    ],
    ["MyACR.azurecr.io/app", { registry: "myacr.azurecr.io", repository: "app" }],
  ])("%s", (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it.each([
    ["", /empty/],
    ["UPPER/case", /must be lower-case/],
    ["a//b", /empty path component/],
    ["a/b:", /not a valid tag/],
    ["a/b:-bad", /not a valid tag/],
    ["a/b@sha256:123", /not a valid digest/],
    ["a/b@md5", /not a valid digest/],
    ["host:port:bad/a", /not a valid registry host/],
    ["a b", /white space/],
    [`a/${"x".repeat(300)}`, /longer than 255/],
  ])("rejects %j with a clear error", (input, message) => {
    expect(() => parseReference(input)).toThrow(InvalidReferenceError);
    expect(() => parseReference(input)).toThrow(message);
  });

  it("round-trips through formatReference and maps Docker Hub to its API host", () => {
    expect(formatReference(parseReference(`ghcr.io/a/b:t@${D}`))).toBe(`ghcr.io/a/b:t@${D}`);
    expect(apiHost("docker.io")).toBe("registry-1.docker.io");
    expect(apiHost("quay.io")).toBe("quay.io");
  });
});
