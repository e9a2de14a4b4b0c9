import { describe, expect, it } from "vitest";
import { judgeImage, staleSince, type EdgeFacts, type ImageFacts } from "../../shared/bases/eligibility";
import { DAY_MS } from "../../shared/bases/enrollmentTypes";

const d = (c: string) => `sha256:${c.repeat(64)}`;
const [D0, D1, D2] = [d("0"), d("1"), d("2")];
const T0 = "2026-03-01T00:00:00.000Z";
const T1 = "2026-03-10T00:00:00.000Z";
const T2 = "2026-03-12T00:00:00.000Z";
const at = (iso: string, plusDays = 0) => new Date(Date.parse(iso) + plusDays * DAY_MS);

function edge(over: Partial<EdgeFacts> = {}): EdgeFacts {
  return {
    base: "docker.io/library/node:20",
    critical: false,
    current: { digest: D1, since: T1 },
    history: [
      { digest: D0, since: T0 },
      { digest: D1, since: T1 },
    ],
    evidence: { kind: "label", digest: D0, from: "label" },
    ...over,
  };
}

function image(edges: EdgeFacts[], over: Partial<ImageFacts> = {}): ImageFacts {
  return { name: "api", delayMs: 7 * DAY_MS, edges, ...over };
}

describe("judgeImage", () => {
  it("is current when the image was built from the current digest", () => {
    const verdict = judgeImage(
      image([edge({ evidence: { kind: "label", digest: D1, from: "annotation" } })]),
      at(T1, 30),
    );
    expect(verdict).toMatchObject({ state: "current", stale: false, eligible: false });
    expect(verdict.bases[0]).toMatchObject({ state: "current", builtFrom: D1, evidence: "label", current: D1 });
  });

  it("is stale at once and eligible only after the delay, counted from when the base moved on", () => {
    const facts = image([edge()]);
    const justAfter = judgeImage(facts, at(T1, 1));
    expect(justAfter).toMatchObject({
      state: "stale",
      stale: true,
      eligible: false,
      staleSince: T1,
      eligibleAt: at(T1, 7).toISOString(),
    });
    expect(judgeImage(facts, at(T1, 7)).eligible).toBe(true);
    // A per-image delay of zero makes it eligible at once.
    expect(judgeImage(image([edge()], { delayMs: 0 }), at(T1)).eligible).toBe(true);
  });

  it("counts from the first newer digest, so a base republished daily still becomes eligible", () => {
    const facts = image([
      edge({
        current: { digest: D2, since: T2 },
        history: [
          { digest: D0, since: T0 },
          { digest: D1, since: T1 },
          { digest: D2, since: T2 },
        ],
      }),
    ]);
    expect(judgeImage(facts, at(T1, 7))).toMatchObject({ staleSince: T1, eligible: true });
  });

  it("makes a critical base eligible immediately, and leaves the other bases to their delay", () => {
    const critical = edge({ base: "docker.io/library/debian:12", critical: true });
    const verdict = judgeImage(image([edge(), critical]), at(T1));
    expect(verdict).toMatchObject({ eligible: true, eligibleAt: T1 });
    expect(verdict.bases.map((b) => [b.base, b.eligibleAt])).toEqual([
      ["docker.io/library/node:20", at(T1, 7).toISOString()],
      ["docker.io/library/debian:12", T1],
    ]);
  });

  it("counts a label naming a platform manifest of the current index as current", () => {
    const child = d("a");
    const verdict = judgeImage(
      image([edge({ evidence: { kind: "label", digest: child, from: "label" }, currentAliases: [child] })]),
      at(T1, 30),
    );
    expect(verdict.state).toBe("current");
  });

  it("uses layer evidence and the build time when the built-from digest is not known", () => {
    const layers = (matchesCurrent: boolean) => edge({ evidence: { kind: "layers", matchesCurrent } });
    expect(judgeImage(image([layers(true)]), at(T1, 30)).state).toBe("current");
    // Built before D1 appeared: stale since D1 appeared.
    expect(judgeImage(image([layers(false)], { builtAt: "2026-03-05T00:00:00Z" }), at(T1, 30))).toMatchObject({
      staleSince: T1,
    });
    // Built after D1 appeared yet not on it (a cached base): stale since it was built.
    expect(judgeImage(image([layers(false)], { builtAt: "2026-03-11T00:00:00Z" }), at(T1, 30)).staleSince).toBe(
      "2026-03-11T00:00:00Z",
    );
  });

  it("does not offer a rebuild when the Dockerfile pins an older digest: only a pin update helps", () => {
    const pinned = edge({ pinned: D0, evidence: { kind: "dockerfile-pin", digest: D0 } });
    const verdict = judgeImage(image([pinned]), at(T1, 30));
    expect(verdict).toMatchObject({ state: "stale", stale: true, eligible: false });
    expect(verdict.bases[0]).toMatchObject({
      rebuildHelps: false,
      reason: `the Dockerfile pins ${D0}; update the pin to ${D1}`,
    });
    // Pinned to the current digest, but the image is still on the old layers: a rebuild does help.
    const rebuilt = edge({ pinned: D1, evidence: { kind: "layers", matchesCurrent: false } });
    expect(judgeImage(image([rebuilt]), at(T1, 30)).eligible).toBe(true);
  });

  it("is unknown without evidence or without a current digest, and never eligible while blocked", () => {
    const noEvidence = { ...edge() };
    delete noEvidence.evidence;
    expect(judgeImage(image([noEvidence]), at(T1)).bases[0]).toMatchObject({
      state: "unknown",
      reason: "no evidence of the digest the image was built from",
    });
    const noCurrent = { ...edge(), currentError: "docker.io/library/node:20: 429" };
    delete noCurrent.current;
    expect(judgeImage(image([noCurrent]), at(T1))).toMatchObject({
      state: "unknown",
      reasons: ["docker.io/library/node:20: docker.io/library/node:20: 429"],
    });
    const blocked = judgeImage(image([edge()], { blocked: "in a dependency cycle: a → b → a" }), at(T1, 30));
    expect(blocked).toMatchObject({ stale: true, eligible: false });
    expect(blocked.reasons[0]).toBe("in a dependency cycle: a → b → a");
    expect(judgeImage(image([]), at(T1))).toMatchObject({ state: "current", stale: false });
  });
});

describe("staleSince", () => {
  const history = [
    { digest: D0, since: T0 },
    { digest: D1, since: T1 },
    { digest: D2, since: T2 },
  ];
  const current = { digest: D2, since: T2 };

  it("takes the sighting after the built-from digest, even when the base went back to an old digest", () => {
    expect(staleSince(history, current, D1, undefined)).toBe(T2);
    const reverted = [
      { digest: D1, since: T0 },
      { digest: D0, since: T1 },
    ];
    expect(staleSince(reverted, { digest: D0, since: T1 }, D1, undefined)).toBe(T1);
  });

  it("falls back to the first other digest seen when the built-from digest was never seen", () => {
    expect(staleSince(history, current, d("9"), undefined)).toBe(T0);
    expect(staleSince(history, current, d("9"), "2026-03-11T00:00:00.000Z")).toBe(T2);
  });
});
