import { describe, expect, it } from "vitest";
import type { ConfigMap } from "../../shared/trace/configFile";
import { deepMerge, mergeAll } from "../../shared/trace/merge";

describe("deepMerge", () => {
  it("merges maps recursively and keeps keys the override does not mention", () => {
    const base = { a: { b: 1, c: { d: 2, e: 3 } }, f: "keep" };
    const override = { a: { c: { d: 20 }, g: 4 } };
    expect(deepMerge(base, override)).toEqual({ a: { b: 1, c: { d: 20, e: 3 }, g: 4 }, f: "keep" });
  });

  it("replaces lists whole instead of concatenating", () => {
    expect(deepMerge({ l: [1, 2, 3] }, { l: [9] })).toEqual({ l: [9] });
  });

  it("lets an explicit null and an empty string override", () => {
    expect(deepMerge({ a: { x: 1 }, b: "sha256:abc" }, { a: null, b: "" })).toEqual({ a: null, b: "" });
  });

  it("replaces a map with a scalar and a scalar with a map", () => {
    expect(deepMerge({ a: { x: 1 }, b: "s" }, { a: "s", b: { y: 2 } })).toEqual({ a: "s", b: { y: 2 } });
  });

  it("does not modify its inputs", () => {
    const base = { a: { b: 1 } };
    const override = { a: { c: 2 } };
    deepMerge(base, override);
    expect(base).toEqual({ a: { b: 1 } });
    expect(override).toEqual({ a: { c: 2 } });
  });

  it("keeps a __proto__ key as data", () => {
    const override = JSON.parse('{"__proto__": {"polluted": true}}') as ConfigMap;
    const out = deepMerge({}, override);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(Object.keys(out)).toEqual(["__proto__"]);
  });
});

describe("mergeAll", () => {
  it("applies documents in order, later ones winning", () => {
    expect(mergeAll([{ a: 1, b: { c: 1 } }, { a: 2 }, { b: { c: 3 } }])).toEqual({ a: 2, b: { c: 3 } });
  });
});
