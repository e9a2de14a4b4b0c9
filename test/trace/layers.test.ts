import { describe, expect, it } from "vitest";
import type { ConfigMap } from "../../shared/trace/configFile";
import {
  AmbiguousEnvironmentError,
  ConfigShapeError,
  UnknownCloudError,
  UnknownEnvironmentError,
} from "../../shared/trace/errors";
import { cloudForEnvironment, layerConfig, listContexts } from "../../shared/trace/layers";

const doc: ConfigMap = {
  defaults: { image: { registry: "r", repository: "x", digest: "d0" }, level: "defaults", list: [1] },
  clouds: {
    public: {
      defaults: { level: "cloud", cloudOnly: true },
      environments: {
        int: { defaults: { level: "int" } },
        canary: {
          defaults: { level: "canary", image: { digest: "d1" }, list: [2, 3] },
          regions: { eastus: { level: "eastus", image: { digest: "d2" } } },
        },
      },
    },
    dev: { environments: { dev: { defaults: null }, int: {} } },
  },
};

describe("layerConfig", () => {
  it("layers defaults, cloud, environment and region, later layers winning", () => {
    const out = layerConfig(doc, { cloud: "public", environment: "canary", region: "eastus" });
    expect(out.config).toEqual({
      image: { registry: "r", repository: "x", digest: "d2" },
      level: "eastus",
      list: [2, 3],
      cloudOnly: true,
    });
    expect(out.regionFound).toBe(true);
  });

  it("does not apply another environment's layer", () => {
    expect(layerConfig(doc, { cloud: "public", environment: "int" }).config).toMatchObject({
      level: "int",
      image: { digest: "d0" },
    });
  });

  it("treats an unknown region as the environment's defaults, not an error", () => {
    const out = layerConfig(doc, { cloud: "public", environment: "canary", region: "mars" });
    expect(out.config["level"]).toBe("canary");
    expect(out.region).toBe("mars");
    expect(out.regionFound).toBe(false);
  });

  it("tolerates missing and empty layers", () => {
    expect(layerConfig(doc, { cloud: "dev", environment: "dev" }).config["level"]).toBe("defaults");
  });

  it("rejects an unknown cloud, listing the valid ones", () => {
    expect(() => layerConfig(doc, { cloud: "moon", environment: "int" })).toThrow(UnknownCloudError);
    expect(() => layerConfig(doc, { cloud: "moon", environment: "int" })).toThrow(
      'unknown cloud "moon"; valid clouds: dev, public',
    );
  });

  it("rejects an unknown environment, listing those the file declares", () => {
    let error: unknown;
    try {
      layerConfig(doc, { cloud: "public", environment: "prod" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UnknownEnvironmentError);
    expect((error as UnknownEnvironmentError).validEnvironments).toEqual(["canary", "int"]);
    expect((error as Error).message).toBe(
      'unknown environment "prod" in cloud "public"; valid environments: canary, int',
    );
  });

  it("reports a layer that is not a mapping", () => {
    expect(() =>
      layerConfig({ defaults: [1], clouds: { c: { environments: { e: {} } } } }, { cloud: "c", environment: "e" }),
    ).toThrow(ConfigShapeError);
  });
});

describe("contexts", () => {
  it("lists every cloud/environment with its regions", () => {
    expect(listContexts(doc)).toEqual([
      { cloud: "dev", environment: "dev", regions: [] },
      { cloud: "dev", environment: "int", regions: [] },
      { cloud: "public", environment: "canary", regions: ["eastus"] },
      { cloud: "public", environment: "int", regions: [] },
    ]);
  });

  it("finds the cloud of an environment, and refuses unknown or ambiguous names", () => {
    expect(cloudForEnvironment(doc, "canary")).toBe("public");
    expect(() => cloudForEnvironment(doc, "int")).toThrow(AmbiguousEnvironmentError);
    expect(() => cloudForEnvironment(doc, "prod")).toThrow(
      /valid environments: dev\/dev, dev\/int, public\/canary, public\/int/,
    );
  });
});
