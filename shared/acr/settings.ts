/**
 * The app settings of the ACR-native paths. They are part of the one settings contract (`SETTINGS` in
 * shared/settings.ts, which `readSettings` folds into `Settings.acr` and the infra test checks against
 * infra/modules/function.bicep); this module re-exports the ACR part for callers that need only it.
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
export { AcrSettingsError, readAcrSettings, type AcrSettings } from "../settings";
