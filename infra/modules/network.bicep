// Private networking (main.bicep enablePrivateNetworking): a VNet with one subnet for the function app's outbound
// VNet integration (delegated to Microsoft.App/environments, as Flex Consumption requires) and one for private
// endpoints; a private endpoint for each storage service the app uses, for Key Vault and for a registry created
// here; and the privatelink DNS zones linked to the VNet so the usual host names resolve to those endpoints.
// The resources themselves switch public network access off in their own modules.

@description('Name prefix for the network resources.')
param namePrefix string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Address space of the VNet.')
param addressPrefix string = '10.20.0.0/16'

@description('Subnet for the function app (VNet integration), at least /27.')
param appSubnetPrefix string = '10.20.0.0/24'

@description('Subnet for the private endpoints.')
param endpointSubnetPrefix string = '10.20.1.0/24'

@description('Storage account whose blob, queue and table services get private endpoints.')
param storageAccountName string

@description('Key Vault that gets a private endpoint.')
param keyVaultName string

@description('Registry in this resource group that gets a private endpoint (Premium SKU); empty: none.')
param registryName string = ''

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: '${namePrefix}-vnet'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'endpoints'
        properties: {
          addressPrefix: endpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// One endpoint per (resource, sub-resource), each with the DNS zone its host name resolves through.
var storageEndpoints = [
  for service in [
    'blob'
    'queue'
    'table'
  ]: {
    name: 'st-${service}'
    resourceId: storage.id
    groupId: service
    zone: 'privatelink.${service}.${environment().suffixes.storage}'
  }
]
var vaultEndpoint = {
  name: 'kv'
  resourceId: vault.id
  groupId: 'vault'
  zone: 'privatelink.vaultcore.azure.net'
}
var registryEndpoints = empty(registryName)
  ? []
  : [
      {
        name: 'acr'
        resourceId: resourceId('Microsoft.ContainerRegistry/registries', registryName)
        groupId: 'registry'
        zone: 'privatelink.azurecr.io'
      }
    ]
var endpoints = concat(storageEndpoints, [vaultEndpoint], registryEndpoints)

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for e in endpoints: {
    name: e.zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (e, i) in endpoints: {
    parent: zones[i]
    name: '${namePrefix}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for e in endpoints: {
    name: '${namePrefix}-pe-${e.name}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'endpoints')
      }
      privateLinkServiceConnections: [
        {
          name: e.name
          properties: {
            privateLinkServiceId: e.resourceId
            groupIds: [
              e.groupId
            ]
          }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (e, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(e.zone, '.', '-')
          properties: {
            privateDnsZoneId: zones[i].id
          }
        }
      ]
    }
  }
]

output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'app')
output vnetId string = vnet.id
