/**
 * Run metrics to Application Insights as custom metrics (`customMetrics`, and the `azure.applicationinsights`
 * metric namespace the outdated-images alert reads), through an OpenTelemetry meter of our own with the Azure
 * Monitor exporter: no global provider, no auto-instrumentation, just our numbers. `flush` must be awaited before
 * the timer returns, because the instance may be frozen right after.
 */
import type { TokenCredential } from "@azure/identity";
import { AzureMonitorMetricExporter, type AzureMonitorExporterOptions } from "@azure/monitor-opentelemetry-exporter";
import type { Histogram } from "@opentelemetry/api";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import type { MetricsSink } from "./metrics";

export class AppInsightsMetrics implements MetricsSink {
  private readonly provider: MeterProvider;
  private readonly histograms = new Map<string, Histogram>();

  /**
   * `credential`: App Insights with local auth off takes Entra ID tokens (the app's managed identity).
   * `exporterOptions`: extra client options (tests add a TLS trust policy for their stand-in).
   */
  constructor(
    connectionString: string,
    credential?: TokenCredential,
    exporterOptions: AzureMonitorExporterOptions = {},
  ) {
    const exporter = new AzureMonitorMetricExporter({
      ...exporterOptions,
      connectionString,
      ...(credential ? { credential } : {}),
      // A function instance has no disk worth retrying from; a lost run metric is replaced by the next run's.
      disableOfflineStorage: true,
    });
    this.provider = new MeterProvider({
      // The periodic export is a fallback; every run flushes explicitly.
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })],
    });
  }

  emit(name: string, value: number, dimensions: Record<string, string> = {}): void {
    let histogram = this.histograms.get(name);
    if (!histogram) {
      histogram = this.provider.getMeter("acr-image-sync").createHistogram(name);
      this.histograms.set(name, histogram);
    }
    histogram.record(value, dimensions);
  }

  async flush(): Promise<void> {
    await this.provider.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
