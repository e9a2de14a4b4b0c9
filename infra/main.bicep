// acr-image-sync: everything the Functions app needs, in one resource-group deployment.
//
//   az deployment group create -g <rg> -f infra/main.bicep -p @infra/main.parameters.json
//
// Raw resources only (no registry modules), one module per concern under modules/. See docs/deploy.md.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------------------------
// Naming and placement

@description('Short name used to derive resource names. Normalised to lowercase letters and digits (anything else, such as - or _, is dropped), so every derived name is valid for storage and Key Vault.')
@minLength(3)
@maxLength(12)
param baseName string = 'imgsync'

@description('Region for every resource in this resource group; must offer Flex Consumption.')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {
  app: 'acr-image-sync'
}

// ---------------------------------------------------------------------------------------------------------------
// Target registry

@description('Target registry name (without .azurecr.io).')
@minLength(5)
@maxLength(50)
param registryName string

@description('true: create the registry in this resource group. false: use an existing registry.')
param createRegistry bool = false

@description('Subscription of an existing registry (defaults to this one). Ignored when createRegistry is true.')
param registrySubscriptionId string = subscription().subscriptionId

@description('Resource group of an existing registry (defaults to this one). Ignored when createRegistry is true.')
param registryResourceGroupName string = resourceGroup().name

@description('SKU when the registry is created here.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param registrySku string = 'Standard'

@description('Grant AcrDelete on the registry so the app can prune old pin tags (needed for RETENTION_MODE=delete only).')
param enableRetention bool = false

@description('Grant "Container Registry Data Importer and Data Reader" so the app can use ACR server-side import (COPY_MODE import or auto).')
param enableImport bool = false

@description('COPY_MODE: stream (through the app), import (ACR importImage) or auto. import and auto take effect only with enableImport (the role); without it the app streams.')
@allowed([
  'stream'
  'import'
  'auto'
])
param copyMode string = 'stream'

@description('IMPORT_TIMEOUT_SECONDS: longest wait for one ACR import operation.')
@minValue(10)
param importTimeoutSeconds int = 600

@description('ACR_BULK_LISTING: list tags with their digests in one request per page (ACR, quay.io, Artifact Registry) instead of one HEAD per tag.')
param acrBulkListing bool = true

@description('LOCK_IMAGES: write- and delete-protect each mirrored manifest after copying it; drift on a locked tag is reported, never forced.')
param lockImages bool = false

@description('RETENTION_DAYS: pin tags dated more than this many days ago may be deleted (RETENTION_MODE is delete with enableRetention, report otherwise).')
@minValue(1)
param retentionDays int = 90

@description('RETENTION_KEEP: the newest pin tags of each repository that always stay.')
@minValue(0)
param retentionKeep int = 5

@description('RETENTION_DELETE_UNTAGGED: also delete manifests the app wrote once retention leaves them without a tag.')
param retentionDeleteUntagged bool = false

// ---------------------------------------------------------------------------------------------------------------
// App behaviour (app settings)

@description('SYNC_CONFIG: path inside the package or an https URL of the sync YAML.')
param syncConfig string = 'sync.yaml'

@description('SYNC_SCHEDULE: six-field NCRONTAB (UTC) for the sync timer.')
param syncSchedule string = '0 0 * * * *'

@description('Minutes between two runs of SYNC_SCHEDULE; sizes the alert windows. Keep it in step with the schedule. Only intervals that divide a day are offered, because a six-field NCRONTAB cannot express others evenly.')
@allowed([
  15
  20
  30
  60
  120
  180
  240
  360
  480
  720
  1440
])
param syncIntervalMinutes int = 60

@description('SYNC_MODE: inline copies during the timer run; queue enqueues one message per image.')
@allowed([
  'inline'
  'queue'
])
param syncMode string = 'inline'

@description('SYNC_IMAGES: false = report only (plan and record, copy nothing).')
param syncImages bool = true

@description('VERIFY_TARGET_EVERY: re-check the target registry every N runs.')
@minValue(1)
param verifyTargetEvery int = 6

@description('RATE_LIMIT_RESERVE: upstream pulls kept in reserve per registry host (Docker Hub counts GETs).')
@minValue(0)
param rateLimitReserve int = 10

@description('SYNC_BUDGET_SECONDS: seconds a timer run may plan and start copies before it leaves a cursor for the next run; well under functionTimeout (1800 s).')
@minValue(0)
param syncBudgetSeconds int = 1200

@description('BASES_CONFIG: base-image enrollment file in the package (empty: base tracking off).')
param basesConfig string = ''

@description('BASES_TRIGGERS: let eligible enrolled images call their rebuild trigger (each must also enable it).')
param basesTriggers bool = false

@description('TRACE_SERVICE: service definition used by the trace endpoint.')
param traceService string = 'aro-hcp'

@description('TRACE_CONFIG_SOURCE: URL template for service config files, with {commit} and {path}.')
param traceConfigSource string = 'https://raw.githubusercontent.com/Azure/ARO-HCP/{commit}/{path}'

@description('Maximum Flex Consumption instances.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per Flex instance (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// ---------------------------------------------------------------------------------------------------------------
// Network

@description('Private networking: VNet integration for the app, private endpoints for storage, Key Vault and a registry created here (which then becomes Premium), and public network access off on those. See docs/deploy.md.')
param enablePrivateNetworking bool = false

@description('Address space of the VNet when enablePrivateNetworking is true (two /24 subnets are carved from its start).')
param vnetAddressPrefix string = '10.20.0.0/16'

// ---------------------------------------------------------------------------------------------------------------
// Authentication (App Service authentication with Entra ID; docs/deploy.md "Sign-in and app roles")

@description('Client id of the Entra ID app registration (with app roles Reader and Operator) that callers sign in to. Create it first: docs/deploy.md.')
@minLength(36)
@maxLength(36)
param authClientId string

// ---------------------------------------------------------------------------------------------------------------
// Alerts

@description('Resource id of an existing action group for every alert. Empty: one is created from alertEmail and alertWebhookUrl.')
param actionGroupId string = ''

@description('Email address for alert notifications when the action group is created here (empty = none).')
param alertEmail string = ''

@description('Optional webhook URL for alert notifications (treated as a secret: it often embeds a token).')
@secure()
param alertWebhookUrl string = ''

// ---------------------------------------------------------------------------------------------------------------
// Key Vault name reuse

@description('Changes the Key Vault name (and only it). The vault has purge protection, so after the resource group is deleted its name stays soft-deleted for the retention period: either recover it (keyVaultCreateMode = recover, or az keyvault recover) or pick a new seed. See docs/deploy.md.')
@maxLength(24)
param keyVaultNameSeed string = ''

@description('default: create the vault. recover: recover the soft-deleted vault of the same name (same subscription and region) instead.')
@allowed([
  'default'
  'recover'
])
param keyVaultCreateMode string = 'default'

// ---------------------------------------------------------------------------------------------------------------
// Names

// Lowercase letters and digits only: storage account names allow nothing else, and Key Vault names forbid '--'.
var baseNameChars = map(range(0, length(baseName)), i => toLower(substring(baseName, i, 1)))
var baseNameFiltered = join(filter(baseNameChars, c => contains('abcdefghijklmnopqrstuvwxyz0123456789', c)), '')
var safeBaseName = empty(baseNameFiltered) ? 'imgsync' : baseNameFiltered
var suffix = take(uniqueString(subscription().id, resourceGroup().id, safeBaseName), 8)
var keyVaultSuffix = empty(keyVaultNameSeed) ? suffix : take(uniqueString(subscription().id, resourceGroup().id, safeBaseName, keyVaultNameSeed), 8)
var copyQueueName = 'copy-image'
var names = {
  identity: 'id-${safeBaseName}-${suffix}'
  storage: take('st${safeBaseName}${suffix}', 24)
  deploymentContainer: 'app-package-${suffix}'
  workspace: 'log-${safeBaseName}-${suffix}'
  appInsights: 'appi-${safeBaseName}-${suffix}'
  keyVault: take('kv-${safeBaseName}-${keyVaultSuffix}', 24)
  plan: 'plan-${safeBaseName}-${suffix}'
  functionApp: 'func-${safeBaseName}-${suffix}'
  alerts: 'alert-${safeBaseName}-${suffix}'
  network: 'net-${safeBaseName}-${suffix}'
}
var publicNetworkAccess = enablePrivateNetworking ? 'Disabled' : 'Enabled'
// A private endpoint on a registry needs the Premium SKU.
var effectiveRegistrySku = enablePrivateNetworking ? 'Premium' : registrySku
var vnetOctets = split(split(vnetAddressPrefix, '/')[0], '.')
var vnetBase = '${vnetOctets[0]}.${vnetOctets[1]}'
// Deterministic ids (known before deployment) seed role-assignment names, so what-if can predict them.
var identityResourceId = resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', names.identity)
var workspaceResourceId = resourceId('Microsoft.OperationalInsights/workspaces', names.workspace)
// A registry created here lives here; an existing one may sit in any resource group of any subscription.
var effectiveRegistrySubscription = createRegistry ? subscription().subscriptionId : registrySubscriptionId
var effectiveRegistryResourceGroup = createRegistry ? resourceGroup().name : registryResourceGroupName
// Import needs its role: without enableImport the app streams, rather than asking ARM and being refused every time.
var effectiveCopyMode = enableImport ? copyMode : 'stream'
// Deleting needs AcrDelete (enableRetention); without it retention reports what it would delete.
var retentionMode = enableRetention ? 'delete' : 'report'

// ---------------------------------------------------------------------------------------------------------------
// Modules

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: tags
    deploymentContainerName: names.deploymentContainer
    copyQueueName: copyQueueName
    workspaceId: workspaceResourceId
    publicNetworkAccess: publicNetworkAccess
  }
  dependsOn: [
    monitoring
  ]
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: names.workspace
    appInsightsName: names.appInsights
    location: location
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: names.keyVault
    location: location
    tags: tags
    createMode: keyVaultCreateMode
    workspaceId: workspaceResourceId
    publicNetworkAccess: publicNetworkAccess
  }
  dependsOn: [
    monitoring
  ]
}

module registry 'modules/acr.bicep' = if (createRegistry) {
  name: 'acr'
  params: {
    name: registryName
    location: location
    tags: tags
    skuName: effectiveRegistrySku
    workspaceId: workspaceResourceId
    publicNetworkAccess: publicNetworkAccess
  }
  dependsOn: [
    monitoring
  ]
}

module network 'modules/network.bicep' = if (enablePrivateNetworking) {
  name: 'network'
  params: {
    namePrefix: names.network
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: '${vnetBase}.0.0/24'
    endpointSubnetPrefix: '${vnetBase}.1.0/24'
    storageAccountName: names.storage
    keyVaultName: names.keyVault
    registryName: createRegistry ? registryName : ''
  }
  dependsOn: [
    storage
    keyVault
    registry
  ]
}

// Deployed into the registry's subscription and resource group, so an existing registry elsewhere gets its roles
// at registry scope.
module registryAccess 'modules/acr-rbac.bicep' = {
  name: 'acr-rbac-${suffix}'
  scope: resourceGroup(effectiveRegistrySubscription, effectiveRegistryResourceGroup)
  params: {
    registryName: registryName
    identityResourceId: identityResourceId
    principalId: identity.outputs.principalId
    enableRetention: enableRetention
    enableImport: enableImport
  }
  dependsOn: [
    registry
  ]
}

// Names from variables, not module outputs: the role assignments' names and scopes are then known before
// deployment (what-if can predict them); dependsOn orders them after the resources.
module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    identityResourceId: identityResourceId
    principalId: identity.outputs.principalId
    storageAccountName: names.storage
    keyVaultName: names.keyVault
    appInsightsName: names.appInsights
  }
  dependsOn: [
    storage
    keyVault
    monitoring
  ]
}

module functionApp 'modules/function.bicep' = {
  name: 'function'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    acrLoginServer: registryAccess.outputs.loginServer
    keyVaultUri: keyVault.outputs.uri
    syncConfig: syncConfig
    syncSchedule: syncSchedule
    syncMode: syncMode
    syncImages: syncImages
    copyQueueName: copyQueueName
    verifyTargetEvery: verifyTargetEvery
    rateLimitReserve: rateLimitReserve
    syncBudgetSeconds: syncBudgetSeconds
    basesConfig: basesConfig
    basesTriggers: basesTriggers
    traceService: traceService
    traceConfigSource: traceConfigSource
    acrSubscriptionId: effectiveRegistrySubscription
    acrResourceGroup: effectiveRegistryResourceGroup
    acrRegistryName: registryName
    acrBulkListing: acrBulkListing
    copyMode: effectiveCopyMode
    importTimeoutSeconds: importTimeoutSeconds
    retentionMode: retentionMode
    retentionDays: retentionDays
    retentionKeep: retentionKeep
    retentionDeleteUntagged: retentionDeleteUntagged
    lockImages: lockImages
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    authClientId: authClientId
    workspaceId: workspaceResourceId
    virtualNetworkSubnetId: enablePrivateNetworking ? network!.outputs.appSubnetId : ''
  }
  // The host reads its storage as the identity on start; grant the roles first.
  dependsOn: [
    rbac
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: names.alerts
    location: location
    tags: tags
    appInsightsName: names.appInsights
    actionGroupId: actionGroupId
    alertEmail: alertEmail
    alertWebhookUrl: alertWebhookUrl
    syncIntervalMinutes: syncIntervalMinutes
    syncMode: syncMode
    poisonQueueName: '${copyQueueName}-poison'
    basesEnabled: !empty(basesConfig)
  }
  dependsOn: [
    monitoring
  ]
}

module dashboard 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    displayName: 'acr-image-sync (${safeBaseName})'
    location: location
    tags: tags
    appInsightsName: names.appInsights
  }
  dependsOn: [
    monitoring
  ]
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = functionApp.outputs.url
output storageAccountName string = storage.outputs.name
output tablesEndpoint string = storage.outputs.tableEndpoint
output identityClientId string = identity.outputs.clientId
output identityPrincipalId string = identity.outputs.principalId
output keyVaultName string = keyVault.outputs.name
output keyVaultUri string = keyVault.outputs.uri
output acrLoginServer string = registryAccess.outputs.loginServer
output appInsightsName string = monitoring.outputs.appInsightsName
output workbookId string = dashboard.outputs.id
