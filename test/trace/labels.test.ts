import { describe, expect, it } from "vitest";
import type { Descriptor } from "../../shared/registry/manifest";
import { pickChild, sourceCommitOf, sourceRepoLabel } from "../../shared/trace/labels";
import { compareUrl, forgeOf, normaliseRepoUrl, treeUrl } from "../../shared/trace/links";

const child = (digit: string, os: string, architecture: string, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${digit.repeat(64)}`,
  size: 100,
  platform: { os, architecture },
  ...extra,
});

describe("pickChild", () => {
  it("takes linux/amd64 wherever it is in the index", () => {
    expect(pickChild([child("1", "linux", "arm64"), child("2", "linux", "amd64")])?.digest).toMatch(/^sha256:2/);
  });

  it("skips attestations, by platform or by annotation, and falls back to the first image", () => {
    const attestation = child("1", "unknown", "unknown");
    const annotated = child("2", "linux", "amd64", {
      annotations: { "vnd.docker.reference.type": "attestation-manifest" },
    });
    expect(pickChild([attestation, annotated, child("3", "linux", "s390x")])?.digest).toMatch(/^sha256:3/);
    expect(pickChild([attestation])).toBeUndefined();
  });
});

describe("sourceCommitOf", () => {
  it("takes vcs-ref, then the OCI revision, then label-schema, then a commit-like tag", () => {
    const all = {
      "vcs-ref": "aaaaaaa",
      "org.opencontainers.image.revision": "bbbbbbb",
      "org.label-schema.vcs-ref": "c",
    };
    expect(sourceCommitOf(all, "ddddddd")).toEqual({ sha: "aaaaaaa", from: "vcs-ref" });
    expect(sourceCommitOf({ "org.opencontainers.image.revision": "bbbbbbb" }, "ddddddd")).toEqual({
      sha: "bbbbbbb",
      from: "org.opencontainers.image.revision",
    });
    expect(sourceCommitOf({ "org.label-schema.vcs-ref": "c0ffee1" }, null)?.from).toBe("org.label-schema.vcs-ref");
    expect(sourceCommitOf({}, "36cd08663b9c1542c5d42477fd86589d298f5f2e")).toEqual({
      sha: "36cd08663b9c1542c5d42477fd86589d298f5f2e",
      from: "tag",
    });
  });

  it("ignores tags that are not commits and label values unfit for a link", () => {
    expect(sourceCommitOf({}, "v0.41.0")).toBeNull();
    expect(sourceCommitOf({}, "latest")).toBeNull();
    expect(sourceCommitOf({ "vcs-ref": "" }, null)).toBeNull();
    expect(sourceCommitOf({ "vcs-ref": "two words" }, null)).toBeNull();
    expect(sourceCommitOf({ "vcs-ref": "x".repeat(129) }, null)).toBeNull();
    expect(sourceCommitOf({ "vcs-ref": "  aaaaaaa\n" }, null)?.sha).toBe("aaaaaaa");
  });
});

describe("source repository", () => {
  it("takes vcs-url, then org.opencontainers.image.source, as web URLs", () => {
    expect(sourceRepoLabel({ "vcs-url": "https://github.com/Azure/ARO-HCP.git" })).toEqual({
      url: "https://github.com/Azure/ARO-HCP",
      from: "vcs-url",
    });
    expect(
      sourceRepoLabel({ "vcs-url": "not a url", "org.opencontainers.image.source": "git@github.com:a/b.git" }),
    ).toEqual({
      url: "https://github.com/a/b",
      from: "org.opencontainers.image.source",
    });
    expect(sourceRepoLabel({})).toBeNull();
  });

  it("normalises what labels write and refuses what is not a plain web repository", () => {
    expect(normaliseRepoUrl("https://github.com/openshift-online/maestro/")).toBe(
      "https://github.com/openshift-online/maestro",
    );
    expect(normaliseRepoUrl("git+https://gitlab.com/g/sub/p.git")).toBe("https://gitlab.com/g/sub/p");
    for (const bad of [
      "ftp://github.com/a/b",
      "https://user:pw@github.com/a/b",
      "https://github.com/a/b?token=x",
      "https://github.com/a",
      "javascript:alert(1)",
      "https://github.com/a/b c",
    ]) {
      expect(normaliseRepoUrl(bad), bad).toBeNull();
    }
  });
});

describe("links", () => {
  it("uses GitHub's and GitLab's URL forms and guesses none for other hosts", () => {
    expect(forgeOf("https://gitlab.cee.redhat.com/service/x")).toBe("gitlab");
    expect(treeUrl("https://github.com/a/b", "abc1234")).toBe("https://github.com/a/b/tree/abc1234");
    expect(treeUrl("https://gitlab.com/a/b", "abc1234")).toBe("https://gitlab.com/a/b/-/tree/abc1234");
    expect(treeUrl("https://git.example.com/a/b", "abc1234")).toBeNull();
    expect(compareUrl("https://github.com/a/b", "1111111", "2222222")).toBe(
      "https://github.com/a/b/compare/1111111...2222222",
    );
    expect(compareUrl("https://gitlab.com/a/b", "1111111", "2222222")).toBe(
      "https://gitlab.com/a/b/-/compare/1111111...2222222",
    );
    expect(compareUrl("https://github.com/a/b", "1111111", "1111111")).toBeNull();
    expect(treeUrl("https://github.com/a/b", "v1.0/../../x")).toBe("https://github.com/a/b/tree/v1.0%2F..%2F..%2Fx");
  });
});
