import { describe, expect, it } from "vitest";
import { AcrSettingsError, DEFAULT_IMPORT_TIMEOUT_MS, DEFAULT_RETENTION, readAcrSettings } from "../../shared/acr";
import { SETTINGS, SettingsError, readSettings } from "../../shared/settings";

const SUB = "11111111-2222-3333-4444-555555555555";

describe("readAcrSettings", () => {
  it("defaults: bulk listing on, stream, retention report-only, no locks", () => {
    expect(readAcrSettings({})).toEqual({
      bulkListing: true,
      copyMode: "stream",
      retention: { mode: "report", maxAgeDays: 90, keepNewest: 5, deleteUntagged: false },
      lockImages: false,
    });
  });

  it("reads every setting, and the registry name from the login server", () => {
    const s = readAcrSettings({
      ACR_BULK_LISTING: "false",
      COPY_MODE: "auto",
      ACR_SUBSCRIPTION_ID: SUB,
      ACR_RESOURCE_GROUP: "rg-acr",
      ACR_LOGIN_SERVER: "myregistry.azurecr.io",
      IMPORT_TIMEOUT_SECONDS: "120",
      RETENTION_MODE: "delete",
      RETENTION_DAYS: "30",
      RETENTION_KEEP: "0",
      RETENTION_DELETE_UNTAGGED: "true",
      LOCK_IMAGES: "1",
    });
    expect(s).toEqual({
      bulkListing: false,
      copyMode: "auto",
      importTarget: { subscriptionId: SUB, resourceGroup: "rg-acr", registryName: "myregistry", timeoutMs: 120_000 },
      retention: { mode: "delete", maxAgeDays: 30, keepNewest: 0, deleteUntagged: true },
      lockImages: true,
    });
  });

  it("names every problem at once, without echoing values", () => {
    let err: unknown;
    try {
      readAcrSettings({
        COPY_MODE: "import",
        ACR_SUBSCRIPTION_ID: "not-a-guid",
        RETENTION_DAYS: "-1",
        LOCK_IMAGES: "maybe",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AcrSettingsError);
    expect((err as AcrSettingsError).problems).toEqual([
      "ACR_SUBSCRIPTION_ID must be a subscription GUID",
      "COPY_MODE import needs ACR_RESOURCE_GROUP, ACR_REGISTRY_NAME (or ACR_LOGIN_SERVER)",
      "RETENTION_DAYS must be a whole number ≥ 1",
      "LOCK_IMAGES must be true or false",
    ]);
    expect((err as Error).message).not.toContain("not-a-guid");
    expect((err as Error).message).not.toContain("maybe");
  });
});

describe("the ACR settings inside the one settings contract", () => {
  const base = { SYNC_CONFIG: "sync.yaml", TABLES_CONNECTION_STRING: "UseDevelopmentStorage=true" };

  it("declares every ACR setting in SETTINGS, with a description and the defaults the modules use", () => {
    const spec = (name: string) => SETTINGS.find((s) => s.name === name);
    for (const name of [
      "ACR_BULK_LISTING",
      "COPY_MODE",
      "ACR_SUBSCRIPTION_ID",
      "ACR_RESOURCE_GROUP",
      "ACR_REGISTRY_NAME",
      "IMPORT_TIMEOUT_SECONDS",
      "RETENTION_MODE",
      "RETENTION_DAYS",
      "RETENTION_KEEP",
      "RETENTION_DELETE_UNTAGGED",
      "LOCK_IMAGES",
    ]) {
      expect(spec(name), name).toBeDefined();
      expect(spec(name)!.description.length).toBeGreaterThan(10);
      expect(spec(name)!.localOnly).toBeUndefined();
    }
    expect(spec("RETENTION_DAYS")!.default).toBe(String(DEFAULT_RETENTION.maxAgeDays));
    expect(spec("RETENTION_KEEP")!.default).toBe(String(DEFAULT_RETENTION.keepNewest));
    expect(spec("RETENTION_DELETE_UNTAGGED")!.default).toBe(String(DEFAULT_RETENTION.deleteUntagged));
    expect(spec("IMPORT_TIMEOUT_SECONDS")!.default).toBe(String(DEFAULT_IMPORT_TIMEOUT_MS / 1000));
  });

  it("readSettings reads them into Settings.acr", () => {
    expect(readSettings(base).acr).toEqual(readAcrSettings({}));
    const s = readSettings({
      ...base,
      ACR_LOGIN_SERVER: "myregistry.azurecr.io",
      ACR_SUBSCRIPTION_ID: SUB,
      ACR_RESOURCE_GROUP: "rg",
      COPY_MODE: "import",
      RETENTION_MODE: "off",
    });
    expect(s.acr).toMatchObject({
      copyMode: "import",
      importTarget: { subscriptionId: SUB, resourceGroup: "rg", registryName: "myregistry", timeoutMs: 600_000 },
      retention: { mode: "off" },
    });
  });

  it("reports ACR problems with every other problem, in one SettingsError", () => {
    let err: unknown;
    try {
      readSettings({ ...base, SYNC_MODE: "later", COPY_MODE: "teleport", RETENTION_KEEP: "x" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SettingsError);
    expect((err as SettingsError).problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^SYNC_MODE/),
        "COPY_MODE must be one of stream, import, auto",
        "RETENTION_KEEP must be a whole number ≥ 0",
      ]),
    );
  });
});
