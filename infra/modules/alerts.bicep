// Log search alerts on Application Insights that mean what they say (docs/alerts.md):
//  1. outdated images, per target registry, judged on timer runs only and only after the copies a timer run started
//     have had their chance: inline mode reads the run's own after-copy count; queue mode needs two consecutive
//     timer runs that both found images outdated before copying.
//  2. missed runs: no timer run for two sync intervals (manual, CLI and queue runs do not count).
//  3. poisoned copies: the Functions host moved a copy message to the poison queue.
//  4. stale base images (only when base tracking is on).
// Every rule has a system-assigned identity that may read the component (Monitoring Reader), so it does not run
// with the rights of whoever last saved it.

@description('Prefix for alert resource names.')
param namePrefix string

@description('Region of the Application Insights component (log alerts are regional).')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Name of the Application Insights component the rules query (same resource group).')
param appInsightsName string

@description('Resource id of an existing action group. Empty: create one from alertEmail and alertWebhookUrl.')
param actionGroupId string = ''

@description('Email address that receives alerts. Empty = no email receiver.')
param alertEmail string = ''

@description('Optional webhook (for example a Teams or PagerDuty endpoint). Empty = none.')
@secure()
param alertWebhookUrl string = ''

@description('Minutes between timer runs; must match SYNC_SCHEDULE.')
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

@description('SYNC_MODE of the app: in queue mode a timer run only enqueues the copies.')
@allowed([
  'inline'
  'queue'
])
param syncMode string = 'inline'

@description('Name of the poison queue the host moves failed copy messages to.')
param poisonQueueName string

@description('Base-image tracking is on (BASES_CONFIG set): add the stale-base-images alert.')
param basesEnabled bool = false

@description('Severity of the outdated-images alert (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param outdatedSeverity int = 2

@description('Severity of the missed-runs alert.')
@minValue(0)
@maxValue(4)
param missedRunSeverity int = 1

@description('Severity of the poisoned-copies alert.')
@minValue(0)
@maxValue(4)
param poisonSeverity int = 2

@description('Severity of the stale-base-images alert.')
@minValue(0)
@maxValue(4)
param staleBaseSeverity int = 3

// Window sizes a log search alert accepts (docs/alerts.md cites the list); each rule takes the smallest that covers
// what it must see. The largest, P2D, covers two intervals of the largest allowed syncIntervalMinutes (1440).
var windowSizes = [
  { minutes: 30, iso: 'PT30M' }
  { minutes: 60, iso: 'PT1H' }
  { minutes: 120, iso: 'PT2H' }
  { minutes: 180, iso: 'PT3H' }
  { minutes: 240, iso: 'PT4H' }
  { minutes: 360, iso: 'PT6H' }
  { minutes: 1440, iso: 'P1D' }
  { minutes: 2880, iso: 'P2D' }
]
// One interval plus 15 minutes for the run itself and ingestion delay: always holds the latest timer run.
var oneRunWindow = (first(filter(windowSizes, w => w.minutes >= syncIntervalMinutes + 15)) ?? last(windowSizes)).iso
// Two intervals: a healthy timer has run at least once, and in queue mode the two latest runs are both in view.
var twoRunWindow = (first(filter(windowSizes, w => w.minutes >= 2 * syncIntervalMinutes)) ?? last(windowSizes)).iso
var outdatedWindow = syncMode == 'queue' ? twoRunWindow : oneRunWindow
// Evaluate often enough to notice within a quarter of the window, never more often than every 15 minutes.
var frequencyFor = {
  PT30M: 'PT15M'
  PT1H: 'PT15M'
  PT2H: 'PT30M'
  PT3H: 'PT30M'
  PT4H: 'PT1H'
  PT6H: 'PT1H'
  P1D: 'PT1H'
  P2D: 'PT1H'
}

// Only timer runs: manual, CLI and queue-triggered runs feed the same metrics but say nothing about the schedule.
// Histograms arrive as customMetrics rows; valueMax is the largest value recorded in the row's export interval.
var timerOnly = '| where tostring(customDimensions.trigger) == "timer" | extend targetRegistry = tostring(customDimensions.targetRegistry)'
var outdatedInlineQuery = 'customMetrics | where name == "outdated_images" ${timerOnly} | summarize arg_max(timestamp, valueMax) by targetRegistry | project targetRegistry, outdated = valueMax'
// Queue mode: a run's after-count still includes the copies it just queued. The next timer run's before-count shows
// what those copies left undone (plus anything new upstream); both latest runs must agree that images are behind.
var outdatedQueueQuery = 'customMetrics | where name == "outdated_before_sync" ${timerOnly} | partition hint.strategy=native by targetRegistry (top 2 by timestamp desc) | summarize runs = count(), outdated = min(valueMax) by targetRegistry | where runs >= 2 | project targetRegistry, outdated'
// summarize without `by` always yields one row, so "no runs at all" evaluates to runs = 0 rather than no result.
var missedRunQuery = 'customMetrics | where name == "sync_runs" ${timerOnly} | summarize runs = count()'
// The WebJobs queue listener logs this line when a message reaches maxDequeueCount (host.json) and is moved.
var poisonQuery = 'traces | where message has "MaxDequeueCount" and message has "${poisonQueueName}" | summarize poisoned = count()'
var staleBaseQuery = 'customMetrics | where name == "stale_images" | summarize arg_max(timestamp, valueMax) | project stale = valueMax'

var createActionGroup = empty(actionGroupId)
var emailReceivers = empty(alertEmail)
  ? []
  : [
      {
        name: 'email'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
var webhookReceivers = empty(alertWebhookUrl)
  ? []
  : [
      {
        name: 'webhook'
        serviceUri: alertWebhookUrl
        useCommonAlertSchema: true
      }
    ]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (createActionGroup) {
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

var actionGroups = [
  createActionGroup ? actionGroup.id : actionGroupId
]

var rules = concat(
  [
    {
      key: 'outdated-images'
      displayName: 'images stay outdated after a timer run'
      description: syncMode == 'queue'
        ? 'The two latest timer runs both found mirrored images behind upstream before copying: the copies the first run queued did not bring them up to date (failed, poisoned or still pending). One alert per target registry.'
        : 'The latest timer run left mirrored images behind upstream after copying. One alert per target registry.'
      severity: outdatedSeverity
      windowSize: outdatedWindow
      query: syncMode == 'queue' ? outdatedQueueQuery : outdatedInlineQuery
      measure: 'outdated'
      operator: 'GreaterThan'
      threshold: 0
      dimensions: [
        {
          name: 'targetRegistry'
          operator: 'Include'
          values: [
            '*'
          ]
        }
      ]
    }
    {
      key: 'missed-timer-runs'
      displayName: 'no timer run for two sync intervals'
      description: 'No timer-triggered sync run was recorded for two sync intervals: the timer or the app is not running, so the outdated-images alert cannot be trusted. Manual runs do not count.'
      severity: missedRunSeverity
      windowSize: twoRunWindow
      query: missedRunQuery
      measure: 'runs'
      operator: 'LessThan'
      threshold: 1
      dimensions: []
    }
    {
      key: 'poisoned-copies'
      displayName: 'copy messages moved to the poison queue'
      description: 'The Functions host gave up on at least one queued copy after maxDequeueCount attempts and moved it to ${poisonQueueName}. Inspect and re-queue or delete the message.'
      severity: poisonSeverity
      windowSize: 'PT1H'
      query: poisonQuery
      measure: 'poisoned'
      operator: 'GreaterThan'
      threshold: 0
      dimensions: []
    }
  ],
  basesEnabled
    ? [
        {
          key: 'stale-base-images'
          displayName: 'managed images built on stale base images'
          description: 'The latest base-image report counts managed images whose base image has moved on upstream (stale_images > 0).'
          severity: staleBaseSeverity
          windowSize: oneRunWindow
          query: staleBaseQuery
          measure: 'stale'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: []
        }
      ]
    : []
)

resource logAlerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: '${namePrefix}-${rule.key}'
    location: location
    tags: tags
    kind: 'LogAlert'
    identity: {
      type: 'SystemAssigned'
    }
    properties: {
      displayName: '${namePrefix}: ${rule.displayName}'
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        appInsights.id
      ]
      evaluationFrequency: frequencyFor[rule.windowSize]
      windowSize: rule.windowSize
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Maximum'
            metricMeasureColumn: rule.measure
            operator: rule.operator
            threshold: rule.threshold
            dimensions: rule.dimensions
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: actionGroups
      }
    }
  }
]

// Monitoring Reader on the component only: what a rule's identity needs to run its query.
var monitoringReader = '43d0d8ad-25c7-4714-9337-8ba259a9fe05'

resource alertReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (rule, i) in rules: {
    name: guid(appInsights.id, '${namePrefix}-${rule.key}', monitoringReader)
    scope: appInsights
    properties: {
      principalId: logAlerts[i].identity.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringReader)
    }
  }
]

output actionGroupId string = actionGroups[0]
output ruleNames array = [for (rule, i) in rules: logAlerts[i].name]
output windowSizes object = {
  outdated: outdatedWindow
  missedRuns: twoRunWindow
}
