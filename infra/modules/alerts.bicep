// Action group plus two alerts on Application Insights:
//  1. outdated images: the app emits the custom metric `outdated_images` once per finished run; alert while its
//     maximum over (at least) one sync interval is above zero.
//  2. missed runs: the app emits `sync_runs` = 1 per finished run; alert when none was recorded for two sync
//     intervals, so a dead timer is not read as "nothing outdated".

@description('Prefix for alert resource names.')
param namePrefix string

@description('Region of the Application Insights component (log alerts are regional).')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Resource id of the Application Insights component.')
param appInsightsId string

@description('Email address that receives alerts. Empty = no email receiver.')
param alertEmail string

@description('Optional webhook (for example a Teams or PagerDuty endpoint). Empty = none.')
@secure()
param alertWebhookUrl string = ''

@description('Minutes between sync runs; must match SYNC_SCHEDULE (default hourly = 60).')
@minValue(15)
@maxValue(1440)
param syncIntervalMinutes int = 60

@description('Severity of the outdated-images alert (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param outdatedSeverity int = 2

@description('Severity of the missed-runs alert.')
@minValue(0)
@maxValue(4)
param missedRunSeverity int = 1

// Metric alerts accept only these window sizes; take the smallest that covers one sync interval.
var outdatedWindowSize = syncIntervalMinutes <= 15 ? 'PT15M' : syncIntervalMinutes <= 30 ? 'PT30M' : syncIntervalMinutes <= 60 ? 'PT1H' : syncIntervalMinutes <= 360 ? 'PT6H' : syncIntervalMinutes <= 720 ? 'PT12H' : 'PT24H'

// Two sync intervals, written in hours when whole (PT2H) and in minutes otherwise (PT90M). At most P2D.
var missedRunWindowMinutes = 2 * syncIntervalMinutes
var missedRunWindowSize = missedRunWindowMinutes % 60 == 0 ? 'PT${missedRunWindowMinutes / 60}H' : 'PT${missedRunWindowMinutes}M'

var emailReceivers = empty(alertEmail) ? [] : [
  {
    name: 'email'
    emailAddress: alertEmail
    useCommonAlertSchema: true
  }
]

var webhookReceivers = empty(alertWebhookUrl) ? [] : [
  {
    name: 'webhook'
    serviceUri: alertWebhookUrl
    useCommonAlertSchema: true
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-ag'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'imgsync' // at most 12 characters
    enabled: true
    emailReceivers: emailReceivers
    webhookReceivers: webhookReceivers
  }
}

resource outdatedImages 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-outdated-images'
  location: 'global'
  tags: tags
  properties: {
    description: 'Mirrored images are behind their upstream source (custom metric outdated_images > 0).'
    severity: outdatedSeverity
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: outdatedWindowSize
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: 'OutdatedImages'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'azure.applicationinsights'
          metricName: 'outdated_images'
          timeAggregation: 'Maximum'
          operator: 'GreaterThan'
          threshold: 0
          // The metric does not exist until the first run emits it; without this the deployment fails.
          skipMetricValidation: true
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// summarize without `by` always yields one row, so "no runs at all" evaluates to runs = 0 rather than no result.
resource missedRuns 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-missed-sync-runs'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: no sync run recorded'
    description: 'No sync_runs metric for two sync intervals: the timer or the app is not running, so outdated_images cannot be trusted.'
    severity: missedRunSeverity
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: missedRunWindowSize
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "sync_runs" | summarize runs = count()'
          timeAggregation: 'Total'
          metricMeasureColumn: 'runs'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output outdatedAlertId string = outdatedImages.id
output missedRunAlertId string = missedRuns.id
output outdatedWindowSize string = outdatedWindowSize
output missedRunWindowSize string = missedRunWindowSize
