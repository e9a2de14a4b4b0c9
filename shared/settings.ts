/**
 * Every app setting, read and validated once. The same names are set by `infra/modules/function.bicep` and listed
 * in `local.settings.sample.json`; `test/infra` fails when the three drift apart, so `SETTINGS` is the contract.
 */

export type SyncMode = "inline" | "queue";

export interface TableSettings {
  /** Azurite (or a key-based account) only; in Azure the endpoint plus the managed identity. */
  connectionString?: string;
  endpoint?: string;
}

export interface Settings {
  /** Client id of the user-assigned managed identity; absent: DefaultAzureCredential's chain. */
  azureClientId?: string;
  /** Our ACR: reached with Entra ID through the managed identity. */
  acrLoginServer?: string;
  keyVaultUri?: string;
  /** Local stand-in for Key Vault: a directory with one file per secret. */
  localSecretsDir?: string;
  tables: TableSettings;
  /** Path or https URL of the sync config YAML. */
  syncConfig: string;
  syncSchedule: string;
  syncMode: SyncMode;
  /** `false`: RunWhen's report-only mode — plan and record, copy nothing. */
  syncImages: boolean;
  copyQueueName: string;
  verifyTargetEvery: number;
  rateLimitReserve: number;
  traceService: string;
  /** A git repository path, a directory, or a URL template with `{commit}` and `{path}`. */
  traceConfigSource?: string;
  appInsights?: { connectionString: string; aadClientId?: string; aad: boolean };
  /** Enrollment of managed and external images (base-image tracking); absent: the feature is off. */
  basesConfig?: string;
  /** Whether rebuild triggers may be called at all (each image must also enable its own). */
  basesTriggers: boolean;
}

export class SettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid app settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "SettingsError";
  }
}

export interface SettingSpec {
  name: string;
  required: boolean;
  /** Value used when the setting is absent or empty. */
  default?: string;
  description: string;
  /** Only meaningful on a developer machine; the infra does not set it. */
  localOnly?: boolean;
}

/** The contract. Order is the order of the configuration reference. */
export const SETTINGS: readonly SettingSpec[] = [
  { name: "SYNC_CONFIG", required: true, description: "path or https URL of the sync config YAML" },
  { name: "SYNC_SCHEDULE", required: false, default: "0 0 * * * *", description: "six-field NCRONTAB, UTC (the timer binds %SYNC_SCHEDULE%)" },
  { name: "SYNC_MODE", required: false, default: "inline", description: "`inline` copies in the timer; `queue` enqueues one message per image" },
  { name: "SYNC_IMAGES", required: false, default: "true", description: "`false`: report only, copy nothing" },
  { name: "COPY_QUEUE_NAME", required: false, default: "copy-image", description: "queue for SYNC_MODE=queue (the queue trigger binds %COPY_QUEUE_NAME%)" },
  { name: "VERIFY_TARGET_EVERY", required: false, default: "6", description: "HEAD every target tag on every Nth run; trust our own writes in between" },
  { name: "RATE_LIMIT_RESERVE", required: false, default: "10", description: "upstream pulls (RateLimit-Remaining) kept in reserve per host" },
  { name: "ACR_LOGIN_SERVER", required: false, description: "our ACR, reached with the managed identity" },
  { name: "AZURE_CLIENT_ID", required: false, description: "client id of the user-assigned managed identity" },
  { name: "KEYVAULT_URI", required: false, description: "Key Vault holding upstream pull secrets (Docker config JSON)" },
  { name: "TABLES_ENDPOINT", required: false, description: "Table Storage endpoint, used with the managed identity" },
  { name: "TABLES_CONNECTION_STRING", required: false, description: "Azurite connection string (instead of TABLES_ENDPOINT)", localOnly: true },
  { name: "LOCAL_SECRETS_DIR", required: false, description: "local stand-in for Key Vault: one file per secret", localOnly: true },
  { name: "TRACE_SERVICE", required: false, default: "aro-hcp", description: "service definition the tracer reads configs with" },
  { name: "TRACE_CONFIG_SOURCE", required: false, description: "git repository path, directory, or URL template with {commit} and {path}" },
  { name: "BASES_CONFIG", required: false, description: "path of the base-image enrollment (managed and external images); empty: off" },
  { name: "BASES_TRIGGERS", required: false, default: "false", description: "`true` lets enrolled images with a trigger be rebuilt when eligible" },
  { name: "APPLICATIONINSIGHTS_CONNECTION_STRING", required: false, description: "where run metrics go" },
  { name: "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", required: false, description: "`ClientId=<id>;Authorization=AAD` when local auth is off" },
];

const NCRONTAB_FIELD = /^[0-9*,/-]+$|^[A-Za-z]{3}(?:-[A-Za-z]{3})?$/;

/**
 * `requireTables: false` is for the CLI, which can plan and sync without history (no trust, no run records).
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env, { requireTables = true } = {}): Settings {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const spec = SETTINGS.find((s) => s.name === name);
    const raw = env[name]?.trim();
    return raw ? raw : spec?.default;
  };
  const required = (name: string): string => {
    const v = get(name);
    if (!v) problems.push(`${name} is required (${SETTINGS.find((s) => s.name === name)?.description ?? ""})`);
    return v ?? "";
  };
  const int = (name: string, min: number): number => {
    const v = get(name) ?? "";
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) {
      problems.push(`${name} must be a whole number ≥ ${min}, got "${v}"`);
      return min;
    }
    return n;
  };
  const url = (name: string): string | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== "https:" && !/^(127\.0\.0\.1|localhost)$/.test(u.hostname)) {
        problems.push(`${name} must be an https URL, got "${v}"`);
      }
    } catch {
      problems.push(`${name} must be a URL, got "${v}"`);
    }
    return v;
  };

  const syncSchedule = get("SYNC_SCHEDULE")!;
  const fields = syncSchedule.split(/\s+/);
  if (fields.length !== 6 || !fields.every((f) => NCRONTAB_FIELD.test(f))) {
    problems.push(`SYNC_SCHEDULE must be a six-field NCRONTAB expression ("0 0 * * * *" is hourly), got "${syncSchedule}"`);
  }
  const syncMode = get("SYNC_MODE");
  if (syncMode !== "inline" && syncMode !== "queue") problems.push(`SYNC_MODE must be "inline" or "queue", got "${syncMode}"`);
  const syncImages = get("SYNC_IMAGES")?.toLowerCase();
  if (syncImages !== "true" && syncImages !== "false") problems.push(`SYNC_IMAGES must be "true" or "false", got "${syncImages}"`);
  const basesTriggers = get("BASES_TRIGGERS")?.toLowerCase();
  if (basesTriggers !== "true" && basesTriggers !== "false") problems.push(`BASES_TRIGGERS must be "true" or "false", got "${basesTriggers}"`);
  const copyQueueName = get("COPY_QUEUE_NAME")!;
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(copyQueueName)) {
    problems.push(`COPY_QUEUE_NAME "${copyQueueName}" is not a valid queue name (3-63 lowercase letters, digits, single dashes)`);
  }

  const tables: TableSettings = {};
  const tablesConnection = get("TABLES_CONNECTION_STRING");
  const tablesEndpoint = url("TABLES_ENDPOINT");
  if (tablesConnection) tables.connectionString = tablesConnection;
  else if (tablesEndpoint) tables.endpoint = tablesEndpoint;
  else if (requireTables) problems.push("TABLES_ENDPOINT (in Azure) or TABLES_CONNECTION_STRING (Azurite) is required");

  const acrLoginServer = get("ACR_LOGIN_SERVER");
  if (acrLoginServer && !/^[a-z0-9.-]+(?::\d+)?$/i.test(acrLoginServer)) {
    problems.push(`ACR_LOGIN_SERVER must be a host name like myacr.azurecr.io, got "${acrLoginServer}"`);
  }

  let appInsights: Settings["appInsights"];
  const aiConnection = get("APPLICATIONINSIGHTS_CONNECTION_STRING");
  if (aiConnection) {
    if (!/InstrumentationKey=/i.test(aiConnection)) {
      problems.push("APPLICATIONINSIGHTS_CONNECTION_STRING has no InstrumentationKey");
    }
    const auth = get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING") ?? "";
    const aad = /Authorization=AAD/i.test(auth);
    const clientId = /ClientId=([^;]+)/i.exec(auth)?.[1];
    appInsights = { connectionString: aiConnection, aad, ...(clientId ? { aadClientId: clientId } : {}) };
  }

  const settings: Settings = {
    tables,
    syncConfig: required("SYNC_CONFIG"),
    syncSchedule,
    syncMode: syncMode === "queue" ? "queue" : "inline",
    syncImages: syncImages !== "false",
    copyQueueName,
    verifyTargetEvery: int("VERIFY_TARGET_EVERY", 1),
    rateLimitReserve: int("RATE_LIMIT_RESERVE", 0),
    traceService: get("TRACE_SERVICE")!,
    basesTriggers: basesTriggers === "true",
  };
  const optional: Array<[keyof Settings, string | undefined]> = [
    ["azureClientId", get("AZURE_CLIENT_ID")],
    ["acrLoginServer", acrLoginServer?.toLowerCase()],
    ["keyVaultUri", url("KEYVAULT_URI")],
    ["localSecretsDir", get("LOCAL_SECRETS_DIR")],
    ["traceConfigSource", get("TRACE_CONFIG_SOURCE")],
    ["basesConfig", get("BASES_CONFIG")],
  ];
  for (const [key, value] of optional) if (value) (settings as unknown as Record<string, string>)[key] = value;
  if (appInsights) settings.appInsights = appInsights;
  if (problems.length) throw new SettingsError(problems);
  return settings;
}
