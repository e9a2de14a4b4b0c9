// Creates the target container registry. Only deployed when main.bicep's createRegistry is true; otherwise the
// app uses an existing registry (same or another resource group), looked up in acr-rbac.bicep.

@description('Registry name (5-50 letters and digits).')
@minLength(5)
@maxLength(50)
param name string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Log Analytics workspace that receives the diagnostic logs.')
param workspaceId string

@description('Enabled, or Disabled when private networking is on (reached through a private endpoint only).')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Registry SKU.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param skuName string = 'Standard'

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: publicNetworkAccess
    // Trusted Azure services (for example ACR import from another registry) still get through.
    networkRuleBypassOptions: 'AzureServices'
  }
}

// Login and repository events (ContainerRegistryLoginEvents, ContainerRegistryRepositoryEvents) to Log Analytics (docs/deploy.md "Security baseline").
resource registryDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: registry
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

output id string = registry.id
output loginServer string = registry.properties.loginServer
