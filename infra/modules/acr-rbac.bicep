// Looks up the target registry (created by acr.bicep or pre-existing, possibly in another resource group: main.bicep
// deploys this module into the registry's resource group) and grants the app identity data-plane roles on it.
//
// Role definition GUIDs (built-in roles):
//   AcrPush                                            8311e382-0749-4cb8-b61a-304f252e45ec  push + pull, and image
//       metadata (tags, and the write/delete protection LOCK_IMAGES sets); also what the /acr/v1 listings read
//   AcrDelete                                          c2f4ef07-c644-48eb-af81-4b1b4947fb11  only with enableRetention:
//       RETENTION_MODE=delete deletes pin tags and untagged manifests; report mode needs no extra role
//   Container Registry Data Importer and Data Reader   577a9874-89fd-4f24-9dbd-b5034d0ad23a  only with enableImport:
//       Microsoft.ContainerRegistry/registries/importImage/action (+ registries/read, pull/read) for COPY_MODE
//       import or auto. An ACR *source* imported by resource id needs this role on that registry too (not granted here).
// These apply to registries in the "RBAC Registry Permissions" mode. A registry switched to "RBAC Registry + ABAC
// Repository Permissions" uses the Container Registry Repository * roles instead (not handled here).

@description('Registry name.')
param registryName string

@description('Resource id of the app identity: seeds the role-assignment names, since it is known before deployment.')
param identityResourceId string

@description('Principal (object) id of the app identity.')
param principalId string

@description('Grant AcrDelete so the app can prune old pin tags (RETENTION_MODE=delete).')
param enableRetention bool = false

@description('Grant the import role so the app can use ACR server-side import (COPY_MODE import or auto).')
param enableImport bool = false

var acrPush = '8311e382-0749-4cb8-b61a-304f252e45ec'
var acrDelete = 'c2f4ef07-c644-48eb-af81-4b1b4947fb11'
var acrImporterAndDataReader = '577a9874-89fd-4f24-9dbd-b5034d0ad23a'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource pushRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identityResourceId, acrPush)
  scope: registry
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPush)
  }
}

resource deleteRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableRetention) {
  name: guid(registry.id, identityResourceId, acrDelete)
  scope: registry
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrDelete)
  }
}

resource importRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableImport) {
  name: guid(registry.id, identityResourceId, acrImporterAndDataReader)
  scope: registry
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrImporterAndDataReader)
  }
}

output id string = registry.id
output loginServer string = registry.properties.loginServer
