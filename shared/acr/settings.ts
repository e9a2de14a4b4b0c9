/**
 * The app settings of the ACR-native paths, read and validated once (the lead folds this into shared/settings.ts).
 * Every problem is reported at once; no value is ever echoed (none of these is a secret, but the rule is simple).
 *
 * | Setting | Default | Meaning |
 * |---|---|---|
 * | ACR_BULK_LISTING | true | list target (and ACR/quay/GAR source) tags with digests in bulk instead of one HEAD per tag |
 * | COPY_MODE | stream | stream, import or auto (see shared/acr/copier.ts) |
 * | ACR_SUBSCRIPTION_ID, ACR_RESOURCE_GROUP, ACR_REGISTRY_NAME | — | the target registry in ARM; required for import/auto |
 * | IMPORT_TIMEOUT_SECONDS | 600 | longest wait for one import operation |
 * | RETENTION_MODE | report | off, report (record what would go) or delete |
 * | RETENTION_DAYS | 90 | pin tags dated more than this many days ago may go |
 * | RETENTION_KEEP | 5 | the newest pin tags kept per repository regardless of age |
 * | RETENTION_DELETE_UNTAGGED | false | also delete manifests this tool created that have no tag left |
 * | LOCK_IMAGES | false | write/delete-protect each mirrored manifest after copying it |
 */
import { COPY_MODES, type CopyMode } from "./copier";
import { DEFAULT_RETENTION, type RetentionMode, type RetentionPolicy } from "./retention";

export interface AcrSettings {
  bulkListing: boolean;
  copyMode: CopyMode;
  /** Present when COPY_MODE needs it (import, auto) or when the three ARM settings are given anyway. */
  importTarget?: { subscriptionId: string; resourceGroup: string; registryName: string; timeoutMs: number };
  retention: { mode: RetentionMode } & RetentionPolicy;
  lockImages: boolean;
}

export class AcrSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid ACR settings:\n- ${problems.join("\n- ")}`);
    this.name = "AcrSettingsError";
  }
}

const RETENTION_MODES: readonly RetentionMode[] = ["off", "report", "delete"];

export function readAcrSettings(env: Readonly<Record<string, string | undefined>> = process.env): AcrSettings {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const bool = (name: string, dflt: boolean): boolean => {
    const v = text(name)?.toLowerCase();
    if (v === undefined) return dflt;
    if (["true", "1", "yes"].includes(v)) return true;
    if (["false", "0", "no"].includes(v)) return false;
    problems.push(`${name} must be true or false`);
    return dflt;
  };
  const int = (name: string, dflt: number, min: number): number => {
    const v = text(name);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min) {
      problems.push(`${name} must be a whole number ≥ ${min}`);
      return dflt;
    }
    return Number(v);
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], dflt: T): T => {
    const v = text(name)?.toLowerCase();
    if (v === undefined) return dflt;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    problems.push(`${name} must be one of ${allowed.join(", ")}`);
    return dflt;
  };

  const copyMode = oneOf("COPY_MODE", COPY_MODES, "stream");
  const subscriptionId = text("ACR_SUBSCRIPTION_ID");
  const resourceGroup = text("ACR_RESOURCE_GROUP");
  // The registry name defaults to the login server's first label (myacr.azurecr.io → myacr).
  const registryName =
    text("ACR_REGISTRY_NAME") ?? /^([a-z0-9]+)\.azurecr\./i.exec(text("ACR_LOGIN_SERVER") ?? "")?.[1];
  const timeoutMs = int("IMPORT_TIMEOUT_SECONDS", 600, 10) * 1000;
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

  const settings: AcrSettings = {
    bulkListing: bool("ACR_BULK_LISTING", true),
    copyMode,
    retention: {
      mode: oneOf("RETENTION_MODE", RETENTION_MODES, "report"),
      maxAgeDays: int("RETENTION_DAYS", DEFAULT_RETENTION.maxAgeDays, 1),
      keepNewest: int("RETENTION_KEEP", DEFAULT_RETENTION.keepNewest, 0),
      deleteUntagged: bool("RETENTION_DELETE_UNTAGGED", DEFAULT_RETENTION.deleteUntagged),
    },
    lockImages: bool("LOCK_IMAGES", false),
    ...(importTarget ? { importTarget } : {}),
  };
  if (problems.length > 0) throw new AcrSettingsError(problems);
  return settings;
}
