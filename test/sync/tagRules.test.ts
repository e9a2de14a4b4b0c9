import { describe, expect, it } from "vitest";
import { TagFilter, TagOrder, TagRule } from "../../shared/sync/configTypes";
import { compileTagPattern } from "../../shared/sync/tagPattern";
import { newestFirst, semverOfTag } from "../../shared/sync/tagOrder";
import {
  digestTag,
  isArchPrefixed,
  lookupsNeeded,
  needsTagList,
  pinTagFor,
  selectTags,
  Selection,
} from "../../shared/sync/tagRules";

// The fixture set from the issue, plus partial versions YAML would turn into numbers.
const TAGS = [
  "latest",
  "20250101120000",
  "0.5.12",
  "v0.6.1",
  "main-latest",
  "main-abc1234",
  "amd64-main-abc1234",
  "1.10",
  "9",
];

function pattern(source: string) {
  const compiled = compileTagPattern(source);
  if (typeof compiled === "string") throw new Error(compiled);
  return compiled;
}

function newest(count: number, order: TagOrder, filter: { allow?: string; deny?: string } = {}): TagRule {
  const compiled: TagFilter = {};
  if (filter.allow) compiled.allow = pattern(filter.allow);
  if (filter.deny) compiled.deny = pattern(filter.deny);
  return { kind: "newest", count, order, expensive: order === "created", ...compiled };
}

function sourceTags(selections: Selection[]): string[] {
  return selections.map((s) => (s.kind === "tag" ? s.sourceTag : s.digest));
}

const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe("tags rule", () => {
  it("selects the listed tags as written, without needing the tag list", () => {
    const rule: TagRule = { kind: "tags", tags: ["9", "1.10", "gone"] };
    expect(needsTagList(rule)).toBe(false);
    expect(selectTags(rule, TAGS)).toEqual({
      selections: [
        { kind: "tag", sourceTag: "9", targetTag: "9" },
        { kind: "tag", sourceTag: "1.10", targetTag: "1.10" },
        { kind: "tag", sourceTag: "gone", targetTag: "gone" },
      ],
      warnings: [],
    });
  });
});

describe("digest rule", () => {
  it("mirrors the digest to the tag <hex>", () => {
    const rule: TagRule = { kind: "digest", digest: digest("b") };
    expect(needsTagList(rule)).toBe(false);
    expect(selectTags(rule, [])).toEqual({
      selections: [{ kind: "digest", digest: digest("b"), targetTag: "b".repeat(64) }],
      warnings: [],
    });
  });

  it("refuses a malformed digest", () => {
    expect(() => digestTag("sha256:abc")).toThrow(RangeError);
  });
});

describe("semver rule", () => {
  it("selects full versions in range, v-prefixed included, newest first; ignores 1.10, 9, dates and hashes", () => {
    const rule: TagRule = { kind: "semver", range: ">=0.5.0 <1", prerelease: false };
    expect(needsTagList(rule)).toBe(true);
    expect(sourceTags(selectTags(rule, TAGS).selections)).toEqual(["v0.6.1", "0.5.12"]);
  });

  it("never treats dates, partial versions or commit hashes as versions", () => {
    const rule: TagRule = { kind: "semver", range: "*", prerelease: true };
    expect(sourceTags(selectTags(rule, TAGS).selections)).toEqual(["v0.6.1", "0.5.12"]);
  });

  it("includes prereleases only when asked", () => {
    const tags = ["1.2.0", "1.3.0-rc.1", "1.3.0", "1.4.0-beta.2"];
    const without: TagRule = { kind: "semver", range: ">=1.2", prerelease: false };
    const withPre: TagRule = { kind: "semver", range: ">=1.2", prerelease: true };
    expect(sourceTags(selectTags(without, tags).selections)).toEqual(["1.3.0", "1.2.0"]);
    expect(sourceTags(selectTags(withPre, tags).selections)).toEqual(["1.4.0-beta.2", "1.3.0", "1.3.0-rc.1", "1.2.0"]);
  });

  it("warns when nothing matches", () => {
    const result = selectTags({ kind: "semver", range: ">=2", prerelease: false }, TAGS);
    expect(result.selections).toEqual([]);
    expect(result.warnings).toEqual([{ code: "no-match", message: 'no tag matches semver ">=2" among 9 tags' }]);
  });
});

describe("filter rule (allow/deny)", () => {
  it("matches whole tags only", () => {
    const rule: TagRule = { kind: "filter", allow: pattern("main") };
    expect(sourceTags(selectTags(rule, TAGS).selections)).toEqual([]);
    const prefix: TagRule = { kind: "filter", allow: pattern("main-.*") };
    expect(sourceTags(selectTags(prefix, TAGS).selections)).toEqual(["main-abc1234", "main-latest"]);
  });

  it("applies deny after allow, and deny alone", () => {
    const rule: TagRule = { kind: "filter", allow: pattern("main-.*"), deny: pattern(".*-latest") };
    expect(sourceTags(selectTags(rule, TAGS).selections)).toEqual(["main-abc1234"]);
    const denyOnly: TagRule = { kind: "filter", deny: pattern("latest|main-.*|amd64-.*|[0-9]+") };
    expect(sourceTags(selectTags(denyOnly, TAGS).selections)).toEqual(["0.5.12", "1.10", "v0.6.1"]);
  });

  it("never selects cosign signature or attestation tags", () => {
    const sig = `sha256-${"c".repeat(64)}.sig`;
    const rule: TagRule = { kind: "filter", deny: pattern("latest") };
    expect(sourceTags(selectTags(rule, ["v1", sig, `sha256-${"c".repeat(64)}.att`]).selections)).toEqual(["v1"]);
  });
});

describe("newest rule", () => {
  it("semver order ignores tags that are not semver", () => {
    expect(sourceTags(selectTags(newest(5, "semver"), TAGS).selections)).toEqual(["v0.6.1", "0.5.12"]);
    expect(sourceTags(selectTags(newest(1, "semver"), TAGS).selections)).toEqual(["v0.6.1"]);
  });

  it("semver order breaks ties between 1.2.3 and v1.2.3 by tag text", () => {
    expect(newestFirst("semver", ["v1.2.3", "1.2.3", "1.2.4"])).toEqual(["1.2.4", "1.2.3", "v1.2.3"]);
  });

  it("numeric order uses whole numbers only, compared exactly", () => {
    expect(sourceTags(selectTags(newest(3, "numeric"), TAGS).selections)).toEqual(["20250101120000", "9"]);
    const big = ["20250101120000000001", "20250101120000000002", "09", "9"];
    expect(newestFirst("numeric", big)).toEqual(["20250101120000000002", "20250101120000000001", "09", "9"]);
  });

  it("lexical order compares code units, best paired with allow", () => {
    expect(sourceTags(selectTags(newest(2, "lexical"), TAGS).selections)).toEqual(["v0.6.1", "main-latest"]);
    const dated = newest(1, "lexical", { allow: "[0-9]{14}" });
    expect(sourceTags(selectTags(dated, [...TAGS, "20241231235959"]).selections)).toEqual(["20250101120000"]);
  });

  it("combines with allow/deny", () => {
    const rule = newest(2, "semver", { deny: "v.*" });
    expect(sourceTags(selectTags(rule, TAGS).selections)).toEqual(["0.5.12"]);
  });

  it("created order uses the facts given, warns about tags without a time, and breaks ties by tag", () => {
    const rule = newest(2, "created", { deny: "latest|main-latest" });
    expect(rule).toMatchObject({ expensive: true });
    const created = new Map([
      ["0.5.12", new Date("2025-01-01T00:00:00Z")],
      ["v0.6.1", new Date("2025-02-01T00:00:00Z")],
      ["main-abc1234", new Date("2025-02-01T00:00:00Z")],
      ["9", new Date("not a date")],
    ]);
    const needed = lookupsNeeded(rule, TAGS);
    expect(needed).toEqual({
      digests: [],
      created: ["20250101120000", "0.5.12", "v0.6.1", "main-abc1234", "amd64-main-abc1234", "1.10", "9"],
    });
    const result = selectTags(rule, TAGS, { created });
    expect(sourceTags(result.selections)).toEqual(["main-abc1234", "v0.6.1"]);
    expect(result.warnings).toEqual([
      { code: "created-unknown", message: "4 candidate tags have no known created time" },
    ]);
  });

  it("only created order asks for lookups", () => {
    expect(lookupsNeeded(newest(1, "semver"), TAGS)).toEqual({ digests: [], created: [] });
  });

  it("is deterministic whatever the input order", () => {
    const reversed = [...TAGS].reverse();
    for (const order of ["semver", "numeric", "lexical"] as const) {
      expect(selectTags(newest(3, order), reversed)).toEqual(selectTags(newest(3, order), TAGS));
    }
  });
});

describe("follow rule", () => {
  const rule: TagRule = { kind: "follow", tag: "main-latest", sibling: pattern("^main-[0-9a-f]{7,}$") };
  // The arch-prefixed tag shares the digest on purpose: it must still never be picked.
  const digests = new Map([
    ["main-latest", digest("a")],
    ["main-abc1234", digest("a")],
    ["amd64-main-abc1234", digest("a")],
    ["latest", digest("a")],
    ["main-def5678", digest("d")],
  ]);

  it("asks only for the moving tag and candidate siblings (no arch-prefixed, no non-matching tags)", () => {
    expect(lookupsNeeded(rule, [...TAGS, "main-def5678"])).toEqual({
      digests: ["main-latest", "main-abc1234", "main-def5678"],
      created: [],
    });
  });

  it("mirrors the immutable sibling with the same digest", () => {
    expect(selectTags(rule, [...TAGS, "main-def5678"], { digests })).toEqual({
      selections: [{ kind: "tag", sourceTag: "main-abc1234", targetTag: "main-abc1234", digest: digest("a") }],
      warnings: [],
    });
  });

  it("accepts a lookup function", () => {
    const result = selectTags(rule, TAGS, { digests: (tag) => digests.get(tag) });
    expect(sourceTags(result.selections)).toEqual(["main-abc1234"]);
  });

  it("warns, not fails, when no sibling shares the digest", () => {
    const moved = new Map(digests).set("main-latest", digest("e"));
    const result = selectTags(rule, TAGS, { digests: moved });
    expect(result.selections).toEqual([]);
    expect(result.warnings.map((w) => w.code)).toEqual(["no-sibling"]);
  });

  it("never falls back to the arch-prefixed tag", () => {
    const result = selectTags(rule, ["main-latest", "amd64-main-abc1234"], { digests });
    expect(result.warnings.map((w) => w.code)).toEqual(["no-sibling"]);
  });

  it("picks deterministically between several siblings", () => {
    const tags = ["main-latest", "main-fff0000", "main-abc1234def"];
    const same = () => digest("a");
    expect(sourceTags(selectTags(rule, tags, { digests: same }).selections)).toEqual(["main-abc1234def"]);
    expect(sourceTags(selectTags(rule, [...tags].reverse(), { digests: same }).selections)).toEqual([
      "main-abc1234def",
    ]);
  });

  it("warns when the moving tag is missing or its digest unknown", () => {
    expect(selectTags(rule, ["latest"], { digests }).warnings.map((w) => w.code)).toEqual(["follow-tag-missing"]);
    expect(lookupsNeeded(rule, ["latest"])).toEqual({ digests: [], created: [] });
    expect(selectTags(rule, TAGS).warnings.map((w) => w.code)).toEqual(["follow-digest-unknown"]);
  });
});

describe("helpers", () => {
  it.each(["amd64-main-abc1234", "arm64-x", "s390x-1", "ppc64le-main-abc1234", "arm-v7"])("%s is arch-prefixed", (t) =>
    expect(isArchPrefixed(t)).toBe(true),
  );

  it.each(["main-abc1234", "latest", "amd64", "armada-1", "main-amd64"])("%s is not arch-prefixed", (t) =>
    expect(isArchPrefixed(t)).toBe(false),
  );

  it("parses semver tags strictly, accepting a v or V prefix but never coercing", () => {
    expect(semverOfTag("v0.6.1")?.version).toBe("0.6.1");
    expect(semverOfTag("V0.6.1")?.version).toBe("0.6.1");
    for (const tag of ["1.10", "9", "20250101120000", "main-abc1234", "latest", "vv1.2.3"]) {
      expect(semverOfTag(tag)).toBeUndefined();
    }
  });

  it("builds the dated pin tag in UTC", () => {
    expect(pinTagFor(digest("f"), new Date("2025-01-06T23:30:00-05:00"))).toBe(`20250107_sha256_${"f".repeat(64)}`);
    expect(pinTagFor(digest("0"), new Date(Date.UTC(2025, 0, 6)))).toBe(`20250106_sha256_${"0".repeat(64)}`);
    expect(() => pinTagFor("sha512:abc", new Date())).toThrow(RangeError);
    expect(() => pinTagFor(digest("f"), new Date("nope"))).toThrow(RangeError);
  });

  it("keeps pin tags valid tags (at most 128 characters, not numeric)", () => {
    const tag = pinTagFor(digest("f"), new Date());
    expect(tag.length).toBeLessThanOrEqual(128);
    expect(tag).toMatch(/^[0-9]{8}_sha256_[0-9a-f]{64}$/);
  });
});
