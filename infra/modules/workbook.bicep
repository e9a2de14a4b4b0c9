// The dashboard a user opens: an Azure Monitor workbook on the Application Insights component, with outdated
// images over time per registry, runs and failures, copy durations and bytes, copies moved to the poison queue and
// base images eligible for rebuild. The content lives in ../workbook/workbook.json (edit it in the portal's
// Advanced editor and paste it back).

@description('Display name of the workbook.')
param displayName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Name of the Application Insights component the workbook queries (same resource group).')
param appInsightsName string

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; derived from the component so redeploying updates the same workbook.
  name: guid(appInsights.id, 'acr-image-sync-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: loadTextContent('../workbook/workbook.json')
  }
}

output id string = workbook.id
