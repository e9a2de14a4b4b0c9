/**
 * Every app setting, read and validated once. The same names are set by `infra/modules/function.bicep` and listed
 * in `local.settings.sample.json`; `test/infra` fails when the three drift apart, so `SETTINGS` is the contract.
 */

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { CopyMode } from "./acr/copier";
import { BUILT_IN_SERVICES_DIR, isServiceDefinitionPath, parseServiceDefinition } from "./trace/definition";
import { ServiceDefinitionError } from "./trace/errors";
import type { RetentionMode, RetentionPolicy } from "./acr/retention";

export type SyncMode = "inline" | "queue";

/** The ACR-native paths (shared/acr): bulk listings, import, retention, locks. See docs/acr.md. */
export interface AcrSettings {
  bulkListing: boolean;
  copyMode: CopyMode;
  /** Present when COPY_MODE needs it (import, auto) or when the three ARM settings are given anyway. */
  importTarget?: { subscriptionId: string; resourceGroup: string; registryName: string; timeoutMs: number };
  retention: { mode: RetentionMode } & RetentionPolicy;
  lockImages: boolean;
}

export const COPY_MODES: readonly CopyMode[] = ["stream", "import", "auto"];
export const RETENTION_MODES: readonly RetentionMode[] = ["off", "report", "delete"];

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
  /** How long a timer run may plan and start copies before it stops and leaves a cursor (SYNC_BUDGET_SECONDS). */
  syncBudgetMs: number;
  traceService: string;
  /** A git repository path, a directory, or a URL template with `{commit}` and `{path}`. */
  traceConfigSource?: string;
  /** Registries a trace may read labels from besides the defaults (service definition, sync config, registry map). */
  traceAllowedRegistries: readonly string[];
  /** Every trace's deadline; its registry requests are aborted when it passes. */
  traceDeadlineMs: number;
  /** Refs a traced git commit must be reachable from (e.g. `main`); empty: any commit of the clone. */
  traceRequiredRefs: readonly string[];
  appInsights?: { connectionString: string; aadClientId?: string; aad: boolean };
  /** Enrollment of managed and external images (base-image tracking); absent: the feature is off. */
  basesConfig?: string;
  /** Whether rebuild triggers may be called at all (each image must also enable its own). */
  basesTriggers: boolean;
  acr: AcrSettings;
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
  {
    name: "SYNC_SCHEDULE",
    required: false,
    default: "0 0 * * * *",
    description: "six-field NCRONTAB, UTC (the timer binds %SYNC_SCHEDULE%)",
  },
  {
    name: "SYNC_MODE",
    required: false,
    default: "inline",
    description: "`inline` copies in the timer; `queue` enqueues one message per image",
  },
  { name: "SYNC_IMAGES", required: false, default: "true", description: "`false`: report only, copy nothing" },
  {
    name: "COPY_QUEUE_NAME",
    required: false,
    default: "copy-image",
    description: "queue for SYNC_MODE=queue (the queue trigger binds %COPY_QUEUE_NAME%)",
  },
  {
    name: "VERIFY_TARGET_EVERY",
    required: false,
    default: "6",
    description: "HEAD every target tag on every Nth run; trust our own writes in between",
  },
  {
    name: "RATE_LIMIT_RESERVE",
    required: false,
    default: "10",
    description: "upstream pulls (RateLimit-Remaining) kept in reserve per host",
  },
  {
    name: "SYNC_BUDGET_SECONDS",
    required: false,
    default: "1200",
    description:
      "how long a timer run may plan and start copies; it then stops, records where, and the next run starts there (keep well under host.json functionTimeout, 1800 s)",
  },
  { name: "ACR_LOGIN_SERVER", required: false, description: "our ACR, reached with the managed identity" },
  { name: "AZURE_CLIENT_ID", required: false, description: "client id of the user-assigned managed identity" },
  {
    name: "KEYVAULT_URI",
    required: false,
    description: "Key Vault holding upstream pull secrets (Docker config JSON)",
  },
  { name: "TABLES_ENDPOINT", required: false, description: "Table Storage endpoint, used with the managed identity" },
  {
    name: "TABLES_CONNECTION_STRING",
    required: false,
    description: "Azurite connection string (instead of TABLES_ENDPOINT)",
    localOnly: true,
  },
  {
    name: "LOCAL_SECRETS_DIR",
    required: false,
    description: "local stand-in for Key Vault: one file per secret",
    localOnly: true,
  },
  {
    name: "TRACE_SERVICE",
    required: false,
    default: "aro-hcp",
    description:
      "service definition the tracer reads configs with: a built-in name, or the path of a definition file (docs/trace.md)",
  },
  {
    name: "TRACE_CONFIG_SOURCE",
    required: false,
    description: "git repository path, directory, or URL template with {commit} and {path}",
  },
  {
    name: "TRACE_ALLOWED_REGISTRIES",
    required: false,
    description:
      "comma-separated registry hosts a trace may read labels from, besides those the service definition and the sync config name",
  },
  {
    name: "TRACE_DEADLINE_SECONDS",
    required: false,
    default: "60",
    description: "longest a trace may take; its registry requests are aborted then (≥ 1)",
  },
  {
    name: "TRACE_REQUIRED_REFS",
    required: false,
    description: "comma-separated refs (e.g. `main`) a traced commit of a git source must be reachable from",
  },
  {
    name: "BASES_CONFIG",
    required: false,
    description: "path of the base-image enrollment (managed and external images); empty: off",
  },
  {
    name: "BASES_TRIGGERS",
    required: false,
    default: "false",
    description: "`true` lets enrolled images with a trigger be rebuilt when eligible",
  },
  {
    name: "ACR_BULK_LISTING",
    required: false,
    default: "true",
    description:
      "`true`: list ACR (and quay.io, Artifact Registry) tags with their digests in one request per page instead of one HEAD per tag",
  },
  {
    name: "COPY_MODE",
    required: false,
    default: "stream",
    description:
      "`stream` (through the app), `import` (ACR importImage) or `auto` (import where ACR can, stream otherwise)",
  },
  {
    name: "ACR_SUBSCRIPTION_ID",
    required: false,
    description: "subscription of the target ACR (ARM import); needed for COPY_MODE import and auto",
  },
  {
    name: "ACR_RESOURCE_GROUP",
    required: false,
    description: "resource group of the target ACR (ARM import); needed for COPY_MODE import and auto",
  },
  {
    name: "ACR_REGISTRY_NAME",
    required: false,
    description: "the target ACR's resource name; default the first label of ACR_LOGIN_SERVER",
  },
  {
    name: "IMPORT_TIMEOUT_SECONDS",
    required: false,
    default: "600",
    description: "longest wait for one ACR import operation (≥ 10)",
  },
  {
    name: "RETENTION_MODE",
    required: false,
    default: "report",
    description: "pin-tag retention in ACR targets: `off`, `report` (record what would go) or `delete`",
  },
  {
    name: "RETENTION_DAYS",
    required: false,
    default: "90",
    description: "pin tags dated more than this many days ago may go (≥ 1)",
  },
  {
    name: "RETENTION_KEEP",
    required: false,
    default: "5",
    description: "the newest pin tags of each repository that always stay",
  },
  {
    name: "RETENTION_DELETE_UNTAGGED",
    required: false,
    default: "false",
    description: "`true`: also delete manifests this tool wrote once retention leaves them untagged",
  },
  {
    name: "LOCK_IMAGES",
    required: false,
    default: "false",
    description: "`true`: write- and delete-protect each mirrored manifest in ACR after copying it",
  },
  { name: "APPLICATIONINSIGHTS_CONNECTION_STRING", required: false, description: "where run metrics go" },
  {
    name: "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    required: false,
    description: "`ClientId=<id>;Authorization=AAD` when local auth is off",
  },
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

  const list = (name: string) =>
    (get(name) ?? "")
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
  const hostList = (name: string): string[] => {
    const hosts = list(name);
    for (const h of hosts)
      if (!/^[a-z0-9.-]+(?::\d{1,5})?$/i.test(h)) problems.push(`${name}: "${h}" is not a registry host`);
    return hosts.map((h) => h.toLowerCase());
  };
  const refList = (name: string): string[] => {
    const refs = list(name);
    for (const r of refs)
      if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(r) || r.includes(".."))
        problems.push(`${name}: "${r}" is not a ref`);
    return refs;
  };

  const syncSchedule = get("SYNC_SCHEDULE")!;
  const fields = syncSchedule.split(/\s+/);
  if (fields.length !== 6 || !fields.every((f) => NCRONTAB_FIELD.test(f))) {
    problems.push(
      `SYNC_SCHEDULE must be a six-field NCRONTAB expression ("0 0 * * * *" is hourly), got "${syncSchedule}"`,
    );
  }
  const syncMode = get("SYNC_MODE");
  if (syncMode !== "inline" && syncMode !== "queue")
    problems.push(`SYNC_MODE must be "inline" or "queue", got "${syncMode}"`);
  const syncImages = get("SYNC_IMAGES")?.toLowerCase();
  if (syncImages !== "true" && syncImages !== "false")
    problems.push(`SYNC_IMAGES must be "true" or "false", got "${syncImages}"`);
  const basesTriggers = get("BASES_TRIGGERS")?.toLowerCase();
  if (basesTriggers !== "true" && basesTriggers !== "false")
    problems.push(`BASES_TRIGGERS must be "true" or "false", got "${basesTriggers}"`);
  const copyQueueName = get("COPY_QUEUE_NAME")!;
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(copyQueueName)) {
    problems.push(
      `COPY_QUEUE_NAME "${copyQueueName}" is not a valid queue name (3-63 lowercase letters, digits, single dashes)`,
    );
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

  const acr = parseAcrSettings(env, problems);
  const traceService = get("TRACE_SERVICE")!;
  // Checked at startup, not on the first trace: a definition that cannot be used is a settings problem.
  if (get("TRACE_CONFIG_SOURCE")) problems.push(...traceServiceProblems(traceService));

  const settings: Settings = {
    acr,
    tables,
    syncConfig: required("SYNC_CONFIG"),
    syncSchedule,
    syncMode: syncMode === "queue" ? "queue" : "inline",
    syncImages: syncImages !== "false",
    copyQueueName,
    verifyTargetEvery: int("VERIFY_TARGET_EVERY", 1),
    rateLimitReserve: int("RATE_LIMIT_RESERVE", 0),
    syncBudgetMs: int("SYNC_BUDGET_SECONDS", 0) * 1000,
    traceService,
    traceAllowedRegistries: hostList("TRACE_ALLOWED_REGISTRIES"),
    traceDeadlineMs: int("TRACE_DEADLINE_SECONDS", 1) * 1000,
    traceRequiredRefs: refList("TRACE_REQUIRED_REFS"),
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

export class AcrSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid ACR settings:\n- ${problems.join("\n- ")}`);
    this.name = "AcrSettingsError";
  }
}

/** The ACR settings alone (shared/acr's entry point); throws AcrSettingsError naming every problem. */
export function readAcrSettings(env: Readonly<Record<string, string | undefined>> = process.env): AcrSettings {
  const problems: string[] = [];
  const settings = parseAcrSettings(env, problems);
  if (problems.length > 0) throw new AcrSettingsError(problems);
  return settings;
}

/**
 * The ACR settings, defaults from SETTINGS. Problems go to `problems`; no value is ever echoed (none of these is a
 * secret, but the rule is simple).
 */
function parseAcrSettings(env: Readonly<Record<string, string | undefined>>, problems: string[]): AcrSettings {
  const given = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const dflt = (name: string): string => SETTINGS.find((s) => s.name === name)?.default ?? "";
  const text = (name: string): string => given(name) ?? dflt(name);
  const bool = (name: string): boolean => {
    const v = text(name).toLowerCase();
    if (["true", "1", "yes"].includes(v)) return true;
    if (["false", "0", "no"].includes(v)) return false;
    problems.push(`${name} must be true or false`);
    return dflt(name) === "true";
  };
  const int = (name: string, min: number): number => {
    const v = text(name);
    if (!/^\d+$/.test(v) || Number(v) < min) {
      problems.push(`${name} must be a whole number ≥ ${min}`);
      return Number(dflt(name));
    }
    return Number(v);
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[]): T => {
    const v = text(name).toLowerCase();
    if ((allowed as readonly string[]).includes(v)) return v as T;
    problems.push(`${name} must be one of ${allowed.join(", ")}`);
    return dflt(name) as T;
  };

  const copyMode = oneOf("COPY_MODE", COPY_MODES);
  const subscriptionId = given("ACR_SUBSCRIPTION_ID");
  const resourceGroup = given("ACR_RESOURCE_GROUP");
  // The registry name defaults to the login server's first label (myacr.azurecr.io → myacr).
  const registryName =
    given("ACR_REGISTRY_NAME") ?? /^([a-z0-9]+)\.azurecr\./i.exec(given("ACR_LOGIN_SERVER") ?? "")?.[1];
  const timeoutMs = int("IMPORT_TIMEOUT_SECONDS", 10) * 1000;
  if (subscriptionId && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(subscriptionId)) {
    problems.push("ACR_SUBSCRIPTION_ID must be a subscription GUID");
  }
  if (registryName && !/^[a-zA-Z0-9]{5,50}$/.test(registryName)) {
    problems.push("ACR_REGISTRY_NAME must be 5–50 letters and digits");
  }
  let importTarget: AcrSettings["importTarget"];
  if (subscriptionId && resourceGroup && registryName) {
    importTarget = { subscriptionId, resourceGroup, registryName, timeoutMs };
  } else if (copyMode !== "stream") {
    const missing = [
      !subscriptionId && "ACR_SUBSCRIPTION_ID",
      !resourceGroup && "ACR_RESOURCE_GROUP",
      !registryName && "ACR_REGISTRY_NAME (or ACR_LOGIN_SERVER)",
    ].filter(Boolean);
    problems.push(`COPY_MODE ${copyMode} needs ${missing.join(", ")}`);
  }

  return {
    bulkListing: bool("ACR_BULK_LISTING"),
    copyMode,
    retention: {
      mode: oneOf("RETENTION_MODE", RETENTION_MODES),
      maxAgeDays: int("RETENTION_DAYS", 1),
      keepNewest: int("RETENTION_KEEP", 0),
      deleteUntagged: bool("RETENTION_DELETE_UNTAGGED"),
    },
    lockImages: bool("LOCK_IMAGES"),
    ...(importTarget ? { importTarget } : {}),
  };
}

const MAX_DEFINITION_BYTES = 256 * 1024;

/** TRACE_SERVICE: a built-in definition that exists, or a definition file that parses and whose catalogue exists. */
function traceServiceProblems(value: string): string[] {
  if (!isServiceDefinitionPath(value)) {
    if (/^[a-z0-9][a-z0-9._-]{0,62}$/.test(value) && existsSync(join(BUILT_IN_SERVICES_DIR, `${value}.yaml`)))
      return [];
    return [
      `TRACE_SERVICE "${value}" is not a built-in service definition; give one or the path of a .yaml definition file`,
    ];
  }
  const file = resolve(value);
  try {
    if (statSync(file).size > MAX_DEFINITION_BYTES)
      return [`TRACE_SERVICE ${value}: larger than ${MAX_DEFINITION_BYTES} bytes`];
    const definition = parseServiceDefinition(readFileSync(file, "utf8"), value);
    if (definition.components !== null && !existsSync(join(dirname(file), definition.components))) {
      return [`TRACE_SERVICE ${value}: its components file ${definition.components} does not exist beside it`];
    }
    return [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [`TRACE_SERVICE ${value}: no such file`];
    if (err instanceof ServiceDefinitionError) return [`TRACE_SERVICE ${err.message.replace(/\n/g, "; ")}`];
    return [`TRACE_SERVICE ${value}: ${err instanceof Error ? err.message : String(err)}`];
  }
}
