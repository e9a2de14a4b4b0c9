import { describe, expect, it } from "vitest";
import { AcrSettingsError, readAcrSettings } from "../../shared/acr";

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
