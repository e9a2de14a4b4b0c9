/**
 * Base-image tracking inside a sync: the enrollment's discovered bases join the sync set, and after the run the
 * report (stale and rebuild-eligible images) is computed, its metrics emitted and, when enabled, triggers sent.
 * Kept apart from Runtime so the sync path reads the same with the feature off.
 */
import {
  basesReport,
  basesSyncEntries,
  discoverBases,
  dockerfileReader,
  emitBasesMetrics,
  loadEnrollmentFile,
  tokenResolver,
  triggerRebuilds,
  type BasesReport,
  type Discovery,
} from "./bases";
import type { RegistryClient } from "./registry/client";
import type { Transport } from "./registry/transport";
import type { SecretProvider } from "./secrets/secretProvider";
import { BaseStore } from "./store/baseStore";
import type { SyncStore } from "./store/syncStore";
import type { Tables } from "./store/tables";
import type { SyncConfig } from "./sync/configTypes";
import type { MetricsSink } from "./telemetry/metrics";

export interface BasesContext {
  file: string;
  triggers: boolean;
  client: RegistryClient;
  transport: Transport;
  secrets: SecretProvider | undefined;
  tables: Tables | undefined;
  store: SyncStore | undefined;
}

export class BasesTracker {
  constructor(private readonly ctx: BasesContext) {}

  private reader() {
    return dockerfileReader({
      transport: this.ctx.transport,
      tokens: tokenResolver(this.ctx.secrets ? { secrets: this.ctx.secrets } : {}),
    });
  }

  /** The sync config with every discovered base added as an external entry. */
  async extend(config: SyncConfig): Promise<{ config: SyncConfig; discovery: Discovery }> {
    const { enrollment } = await loadEnrollmentFile(this.ctx.file);
    const discovery = await discoverBases(enrollment, this.reader(), config);
    return { config: { ...config, images: [...config.images, ...basesSyncEntries(discovery, config)] }, discovery };
  }

  async report(config: SyncConfig, options: { now: Date; discovery?: Discovery }): Promise<BasesReport> {
    if (!this.ctx.tables)
      throw new Error("base-image tracking needs Table Storage (TABLES_ENDPOINT or TABLES_CONNECTION_STRING)");
    const discovery = options.discovery ?? (await this.extend(config)).discovery;
    return basesReport(
      {
        enrollment: discovery.enrollment,
        sync: config,
        client: this.ctx.client,
        store: new BaseStore(this.ctx.tables),
        dockerfiles: this.reader(),
        discovery,
        ...(this.ctx.store ? { status: this.ctx.store } : {}),
      },
      { now: options.now },
    );
  }

  /** After a run: report, metrics, and triggers when allowed. Returns the report for logging. */
  async afterRun(
    config: SyncConfig,
    discovery: Discovery,
    metrics: MetricsSink | undefined,
    now: Date,
    log?: (l: string) => void,
  ): Promise<BasesReport> {
    const report = await this.report(config, { now, discovery });
    if (metrics) emitBasesMetrics(metrics, report);
    if (this.ctx.triggers && this.ctx.tables) {
      const outcomes = await triggerRebuilds(
        report,
        {
          enrollment: discovery.enrollment,
          transport: this.ctx.transport,
          tokens: tokenResolver(this.ctx.secrets ? { secrets: this.ctx.secrets } : {}),
          store: new BaseStore(this.ctx.tables),
          ...(log ? { log } : {}),
        },
        { enabled: true, now },
      );
      for (const o of outcomes) log?.(`rebuild trigger: ${JSON.stringify(o)}`);
    }
    return report;
  }
}
