import { describe, expect, it } from "vitest";
import { SETTINGS, SettingsError, readSettings } from "../shared/settings";

const base = { SYNC_CONFIG: "sync.yaml", TABLES_CONNECTION_STRING: "UseDevelopmentStorage=true" };

describe("readSettings", () => {
  it("applies every documented default", () => {
    const s = readSettings(base);
    expect(s).toMatchObject({
      syncSchedule: "0 0 * * * *",
      syncMode: "inline",
      syncImages: true,
      copyQueueName: "copy-image",
      verifyTargetEvery: 6,
      rateLimitReserve: 10,
      traceService: "aro-hcp",
      tables: { connectionString: "UseDevelopmentStorage=true" },
    });
    expect(s.appInsights).toBeUndefined();
  });

  it("reads the Azure shape: endpoint, identity, vault, AAD telemetry", () => {
    const s = readSettings({
      SYNC_CONFIG: "https://example.blob.core.windows.net/config/sync.yaml",
      TABLES_ENDPOINT: "https://acct.table.core.windows.net",
      AZURE_CLIENT_ID: "11111111-2222-3333-4444-555555555555",
      ACR_LOGIN_SERVER: "MyAcr.azurecr.io",
      KEYVAULT_URI: "https://kv.vault.azure.net/",
      SYNC_MODE: "queue",
      SYNC_IMAGES: "FALSE",
      APPLICATIONINSIGHTS_CONNECTION_STRING: "InstrumentationKey=abc;IngestionEndpoint=https://x/",
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "ClientId=1111;Authorization=AAD",
    });
    expect(s.tables).toEqual({ endpoint: "https://acct.table.core.windows.net" });
    expect(s.acrLoginServer).toBe("myacr.azurecr.io");
    expect(s.syncMode).toBe("queue");
    expect(s.syncImages).toBe(false);
    expect(s.appInsights).toEqual({ connectionString: expect.any(String), aad: true, aadClientId: "1111" });
  });

  it("lists every problem at once, each naming its setting", () => {
    let err: unknown;
    try {
      readSettings({
        SYNC_SCHEDULE: "*/5 * * * *",
        SYNC_MODE: "later",
        SYNC_IMAGES: "maybe",
        COPY_QUEUE_NAME: "Copy_Queue",
        VERIFY_TARGET_EVERY: "0",
        RATE_LIMIT_RESERVE: "-1",
        KEYVAULT_URI: "http://kv.example",
        ACR_LOGIN_SERVER: "https://myacr.azurecr.io",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SettingsError);
    const names = (err as SettingsError).problems.map((p) => p.split(" ")[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        "SYNC_CONFIG",
        "SYNC_SCHEDULE",
        "SYNC_MODE",
        "SYNC_IMAGES",
        "COPY_QUEUE_NAME",
        "VERIFY_TARGET_EVERY",
        "RATE_LIMIT_RESERVE",
        "KEYVAULT_URI",
        "ACR_LOGIN_SERVER",
        "TABLES_ENDPOINT",
      ]),
    );
  });

  it("declares each setting once, with a description", () => {
    const names = SETTINGS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(SETTINGS.every((s) => s.description.length > 10)).toBe(true);
  });
});

describe("local.settings.sample.json", () => {
  it("lists every setting, and each sample value passes validation", async () => {
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const sample = JSON.parse(readFileSync(join(__dirname, "..", "local.settings.sample.json"), "utf8")) as {
      Values: Record<string, string>;
    };
    const missing = SETTINGS.map((s) => s.name).filter((n) => !(n in sample.Values) && n !== "TABLES_ENDPOINT");
    expect(missing).toEqual([]);
    expect(() => readSettings(sample.Values)).not.toThrow();
  });
});
