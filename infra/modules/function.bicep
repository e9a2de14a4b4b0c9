// Flex Consumption (FC1) plan and the Linux function app. The runtime (node 22) lives in functionAppConfig, so
// the Flex-deprecated settings (FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE,
// WEBSITE_CONTENT*) are never set. Host storage is identity-based: no connection string, no key.

@description('Function app name.')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region (must offer Flex Consumption).')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Storage account name (host storage, tables, queues).')
param storageAccountName string

@description('Blob endpoint of the storage account.')
param blobEndpoint string

@description('Queue endpoint of the storage account.')
param queueEndpoint string

@description('Table endpoint of the storage account, without a trailing slash.')
param tableEndpoint string

@description('URL of the blob container that holds the deployment package.')
param deploymentContainerUrl string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Login server of the target registry, e.g. myregistry.azurecr.io.')
param acrLoginServer string

@description('Key Vault URI, e.g. https://kv-name.vault.azure.net/.')
param keyVaultUri string

@description('Sync config: a path inside the package or an https URL.')
param syncConfig string

@description('Six-field NCRONTAB schedule of the sync timer (UTC).')
param syncSchedule string

@description('inline copies in the timer run; queue enqueues one message per image.')
@allowed([
  'inline'
  'queue'
])
param syncMode string

@description('false = report only: plan and record, never copy.')
param syncImages bool

@description('Queue used when syncMode is queue.')
param copyQueueName string

@description('Re-check the target registry every N runs instead of trusting recorded state.')
@minValue(1)
param verifyTargetEvery int

@description('Upstream pulls (RateLimit-Remaining) kept in reserve per registry host.')
@minValue(0)
param rateLimitReserve int

@description('Seconds a timer run may plan and start copies before it stops and leaves a cursor; well under functionTimeout (1800 s in host.json).')
@minValue(0)
param syncBudgetSeconds int

@description('Path of the base-image enrollment inside the package; empty turns base tracking off.')
param basesConfig string

@description('Allow rebuild triggers for enrolled images that enable their own.')
param basesTriggers bool

@description('Service name used by the trace endpoint.')
param traceService string

@description('URL template with {commit} and {path} placeholders for service config files.')
param traceConfigSource string

@description('Comma-separated registry hosts a trace may read labels from, besides those the service definition and the sync config name.')
param traceAllowedRegistries string = ''

@description('Longest a trace may take, in seconds; its registry requests are aborted then.')
param traceDeadlineSeconds int = 60

@description('Comma-separated refs a traced commit of a git source must be reachable from; empty: any.')
param traceRequiredRefs string = ''

@description('Subscription of the target registry (ARM import).')
param acrSubscriptionId string

@description('Resource group of the target registry (ARM import).')
param acrResourceGroup string

@description('Resource name of the target registry (ARM import).')
param acrRegistryName string

@description('List tags with their digests in bulk instead of one HEAD per tag.')
param acrBulkListing bool

@description('stream, import or auto.')
@allowed([
  'stream'
  'import'
  'auto'
])
param copyMode string

@description('Longest wait for one ACR import operation, in seconds.')
@minValue(10)
param importTimeoutSeconds int

@description('Pin-tag retention: off, report or delete (delete needs AcrDelete).')
@allowed([
  'off'
  'report'
  'delete'
])
param retentionMode string

@description('Pin tags older than this many days may go.')
@minValue(1)
param retentionDays int

@description('Newest pin tags kept per repository.')
@minValue(0)
param retentionKeep int

@description('Also delete manifests the app wrote once they have no tag left.')
param retentionDeleteUntagged bool

@description('Write/delete-protect each mirrored manifest after copying it.')
param lockImages bool

@description('Log Analytics workspace that receives the diagnostic logs.')
param workspaceId string

@description('Subnet for outbound VNet integration (private networking); empty: none.')
param virtualNetworkSubnetId string = ''

@description('Maximum instances the Flex plan may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Client id of the Entra ID app registration that signs users and callers in (App Service authentication). Its app roles Reader and Operator are what the app checks (docs/deploy.md).')
param authClientId string

@description('Paths the platform lets through without a token because the host checks a function key there: the MCP extension endpoints (system key mcp_extension).')
param authExcludedPaths array = [
  '/runtime/webhooks/mcp'
  '/runtime/webhooks/mcp/sse'
  '/runtime/webhooks/mcp/message'
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Every name below is a contract with shared/settings.ts and the function bindings (%SYNC_SCHEDULE%,
// %COPY_QUEUE_NAME%); test/infra/bicep.test.ts fails if one goes missing.
// Booleans are written as 'true'/'false' by hand: ARM's string(true) gives 'True'.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    // Host storage (timer leases, queue trigger) over Entra ID as the user-assigned identity.
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__blobServiceUri: blobEndpoint
    AzureWebJobsStorage__queueServiceUri: queueEndpoint
    AzureWebJobsStorage__tableServiceUri: tableEndpoint
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId

    // Telemetry: App Insights has local auth disabled, so the host authenticates with the identity.
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'

    // The app's own settings.
    AZURE_CLIENT_ID: identityClientId
    ACR_LOGIN_SERVER: acrLoginServer
    KEYVAULT_URI: keyVaultUri
    TABLES_ENDPOINT: tableEndpoint
    SYNC_CONFIG: syncConfig
    SYNC_SCHEDULE: syncSchedule
    SYNC_MODE: syncMode
    SYNC_IMAGES: syncImages ? 'true' : 'false'
    COPY_QUEUE_NAME: copyQueueName
    VERIFY_TARGET_EVERY: string(verifyTargetEvery)
    RATE_LIMIT_RESERVE: string(rateLimitReserve)
    SYNC_BUDGET_SECONDS: string(syncBudgetSeconds)
    BASES_CONFIG: basesConfig
    BASES_TRIGGERS: basesTriggers ? 'true' : 'false'
    TRACE_SERVICE: traceService
    TRACE_CONFIG_SOURCE: traceConfigSource
    TRACE_ALLOWED_REGISTRIES: traceAllowedRegistries
    TRACE_DEADLINE_SECONDS: string(traceDeadlineSeconds)
    TRACE_REQUIRED_REFS: traceRequiredRefs

    // ACR-native paths (shared/acr, docs/acr.md): bulk listings, import, retention, locks.
    ACR_BULK_LISTING: acrBulkListing ? 'true' : 'false'
    COPY_MODE: copyMode
    ACR_SUBSCRIPTION_ID: acrSubscriptionId
    ACR_RESOURCE_GROUP: acrResourceGroup
    ACR_REGISTRY_NAME: acrRegistryName
    IMPORT_TIMEOUT_SECONDS: string(importTimeoutSeconds)
    RETENTION_MODE: retentionMode
    RETENTION_DAYS: string(retentionDays)
    RETENTION_KEEP: string(retentionKeep)
    RETENTION_DELETE_UNTAGGED: retentionDeleteUntagged ? 'true' : 'false'
    LOCK_IMAGES: lockImages ? 'true' : 'false'
  }
}

// App Service authentication (Easy Auth) with Entra ID: every request without a valid token for this app
// registration is answered 401 by the platform before it reaches a function, except on authExcludedPaths. The
// platform then passes the caller's claims, app roles included, in the x-ms-client-principal header.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: authExcludedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

// No basic (user name + password) publishing over FTP or SCM: deployments go through Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// Function execution logs (FunctionAppLogs) to Log Analytics (docs/deploy.md "Security baseline").
resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
output url string = 'https://${site.properties.defaultHostName}'
