/**
 * The composition root: app settings in, the domain's services out. The Functions triggers, the CLI and the local
 * server all build one of these and call it; none of them wires clients, credentials or stores by hand.
 */
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { createTagDigestLister, listingKindFor, type ListingKind } from "./acr/bulkDigests";
import { AcrCatalog, AcrClients, isAcrHost } from "./acr/catalog";
import { AcrImporter } from "./acr/importer";
import { AcrLocks } from "./acr/locks";
import type { RetentionDeleter } from "./acr/retention";
import { syncPortsOf, type AcrRunWiring } from "./acr/wiring";
import { BasesTracker } from "./basesRuntime";
import { AuthManager } from "./registry/auth";
import { RegistryClient } from "./registry/client";
import { expandSources } from "./sources/expand";
import { sourceCommitLookup, type SourceCommitLookup } from "./mirror/sourceCommits";
import type { CopyProgress } from "./registry/copy";
import { fileGet } from "./registry/fileGet";
import type { RetryPolicy } from "./registry/retry";
import { Transport } from "./registry/transport";
import { credentialsFor, type Credentials } from "./secrets/credentials";
import { localDockerCredentials } from "./secrets/localDockerConfig";
import { KeyVaultSecretProvider } from "./secrets/keyVault";
import { CachingSecretProvider, DirectorySecretProvider, type SecretProvider } from "./secrets/secretProvider";
import { SettingsError, type Settings } from "./settings";
import { TraceStore } from "./store/traceStore";
import type { TraceDeps } from "./trace/api";
import { builtInCatalogue, catalogueForDefinition, type ComponentCatalogue } from "./trace/catalogue";
import {
  builtInServiceDefinition,
  isServiceDefinitionPath,
  readServiceDefinition,
  type ServiceDefinition,
} from "./trace/definition";
import { RegistryAllowList } from "./trace/guard";
import type { RegistryMap } from "./trace/registryMap";
import { openConfigSource } from "./trace/source";
import { RunLock } from "./store/runLock";
import { SyncStore } from "./store/syncStore";
import { Tables } from "./store/tables";
import { parseSyncConfig, type LoadedConfig } from "./sync/config";
import type { SyncConfig } from "./sync/configTypes";
import { authoriseCopy, CopyMessageRefusedError } from "./sync/copyAuthority";
import { copyFromMessage, type CopyMessage } from "./sync/copyMessage";
import { runSync, type RunOutcome } from "./sync/executor";
import { TrustResolver } from "./supply/trust";
import { isIndexType } from "./registry/manifest";
import type { ImageResult, PlanItem, RunTrigger } from "./sync/model";
import { AppInsightsMetrics } from "./telemetry/appInsights";
import type { MetricsSink } from "./telemetry/metrics";

export interface RuntimeOverrides {
  /** Entra ID credential; default: the user-assigned managed identity from AZURE_CLIENT_ID, else the default chain. */
  credential?: TokenCredential;
  secrets?: SecretProvider & { invalidate?(name: string): void };
  metrics?: MetricsSink;
  transport?: Transport;
  /** Registry hosts read elsewhere for the trace (local demos and tests). */
  registryMap?: RegistryMap;
  /** Tables other than the settings' (tests give each suite its own prefix in one Azurite). */
  tables?: Tables;
  now?: () => Date;
  log?: (line: string) => void;
  /** The ACR-native paths pointed elsewhere: a test's ACR and ARM stand-ins. */
  acr?: AcrOverrides;
  /** Registry auth; default one over the sync config's credentials. Traces build their guarded clients on it. */
  auth?: AuthManager;
}

export interface AcrOverrides {
  /** SDK clients for the ACR data plane (a stand-in's endpoint and CA); default one per registry at `https://<host>`. */
  clients?: AcrClients;
  /** Which registries are ACRs; default by host name (`*.azurecr.io`, `.cn`, `.us`). A test names its stand-in. */
  isAcr?: (registry: string) => boolean;
  /** Which bulk listing a non-ACR registry speaks; default by host name (quay.io, Artifact Registry, GCR). */
  listingKindOf?: (registry: string) => ListingKind | undefined;
  /** Which sources ACR can reach in `auto` mode; default: not loopback or private. */
  reachable?: (registry: string) => boolean;
  /** ARM endpoint and its CA (the import stand-in); default `https://management.azure.com`. */
  armEndpoint?: string;
  armTlsCa?: string | Buffer;
  /** Delay between polls of an import; default the SDK's. */
  importPollIntervalMs?: number;
  /** Retry policy of the importer's ARM client. */
  retry?: Partial<RetryPolicy>;
  /** Retention deletions; default through the ACR SDK. */
  deleter?: RetentionDeleter;
  /** Manifests per page of an ACR listing; default the registry's. */
  pageSize?: number;
}

export interface SyncRequest {
  trigger: RunTrigger;
  /** Plan and record only. `false` cannot lift SYNC_IMAGES=false: the operator's setting is the ceiling. */
  reportOnly?: boolean;
  /** Only the entries whose source or target repository is this (`registry/repository` or `repository`). */
  image?: string;
  /** Queue mode: where outdated items go instead of being copied here. */
  enqueue?: (items: readonly PlanItem[], runId: string) => Promise<void>;
  onProgress?: (item: PlanItem, event: CopyProgress) => void;
}

export class StorageNotConfiguredError extends Error {
  constructor() {
    super("no Table Storage configured: set TABLES_ENDPOINT or TABLES_CONNECTION_STRING");
    this.name = "StorageNotConfiguredError";
  }
}

export class Runtime {
  /** Absent only for CLI runs without history. */
  readonly tables: Tables | undefined;
  readonly store: SyncStore | undefined;
  readonly lock: RunLock | undefined;
  readonly transport: Transport;
  readonly client: RegistryClient;
  readonly metrics: MetricsSink | undefined;
  private credentials: Credentials | undefined;
  private fallback: Promise<Credentials["resolve"]> | undefined;
  private credential: TokenCredential | undefined;
  private readonly secrets: (SecretProvider & { invalidate?(name: string): void }) | undefined;
  private trace: Promise<TraceDeps | null> | undefined;
  private readonly auth: AuthManager;
  private acrClients: AcrClients | undefined;
  private importer: AcrImporter | undefined;
  /** Base-image tracking, when BASES_CONFIG names an enrollment. */
  readonly bases: BasesTracker | undefined;

  constructor(
    readonly settings: Settings,
    private readonly overrides: RuntimeOverrides = {},
  ) {
    this.tables =
      overrides.tables ??
      (settings.tables.connectionString
        ? new Tables({ connectionString: settings.tables.connectionString })
        : settings.tables.endpoint
          ? new Tables({ endpoint: settings.tables.endpoint, credential: this.azureCredential() })
          : undefined);
    this.store = this.tables && new SyncStore(this.tables);
    this.lock = this.tables && new RunLock(this.tables);
    this.secrets = overrides.secrets ?? this.secretProvider();
    this.auth =
      overrides.auth ??
      new AuthManager({
        // Resolved per request against the credentials of the config loaded last.
        credentials: async (registry) => (await this.currentCredentials()).resolve(registry),
        onRejected: (registry) => this.credentials?.rejected(registry),
      });
    this.transport = overrides.transport ?? new Transport({ auth: this.auth });
    this.client = new RegistryClient(this.transport);
    this.bases = settings.basesConfig
      ? new BasesTracker({
          file: settings.basesConfig,
          triggers: settings.basesTriggers,
          client: this.client,
          transport: this.transport,
          secrets: this.secrets,
          tables: this.tables,
          store: this.store,
        })
      : undefined;
    this.metrics =
      overrides.metrics ??
      (settings.appInsights
        ? new AppInsightsMetrics(
            settings.appInsights.connectionString,
            settings.appInsights.aad ? this.azureCredential() : undefined,
          )
        : undefined);
  }

  /** Reads SYNC_CONFIG (a file or a URL) and adopts its pull-secret map. Throws ConfigError with file, line and key. */
  async loadConfig(): Promise<LoadedConfig> {
    const where = this.settings.syncConfig;
    let text: string;
    if (/^https?:\/\//i.test(where)) {
      const url = new URL(where);
      const body = await fileGet(this.transport, url);
      if (body === null) throw new Error(`SYNC_CONFIG ${url.origin}${url.pathname} not found (404)`);
      text = body;
    } else {
      try {
        text = await readFile(where, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT")
          throw new SettingsError([`SYNC_CONFIG ${where}: no such file`]);
        throw err;
      }
    }
    const fromUrl = /^https?:/i.test(where);
    const parsed = parseSyncConfig(
      text,
      fromUrl ? new URL(where).pathname : where,
      fromUrl ? { fromUrl } : { baseDir: dirname(resolve(where)) },
    );
    // Declared image sources are read now; one that fails is a warning, never a failed load.
    const expanded = await expandSources(parsed.config, {
      configLocation: where,
      transport: this.transport,
      client: this.client,
      ...(this.overrides.registryMap ? { registryMap: this.overrides.registryMap } : {}),
    });
    const loaded = { config: expanded.config, warnings: [...parsed.warnings, ...expanded.warnings] };
    this.adoptCredentials(loaded.config);
    return loaded;
  }

  async sync(request: SyncRequest): Promise<RunOutcome> {
    const loaded = await this.loadConfig();
    const extended = this.bases ? await this.bases.extend(loaded.config) : undefined;
    const full = extended?.config ?? loaded.config;
    const config = request.image ? onlyImage(full, request.image) : full;
    const outcome = await runSync({
      client: this.client,
      config,
      trigger: request.trigger,
      // SYNC_IMAGES=false is a ceiling: a request may ask for report-only, never lift it.
      reportOnly: !this.settings.syncImages || request.reportOnly === true,
      verifyEvery: this.settings.verifyTargetEvery,
      rateLimitReserve: this.settings.rateLimitReserve,
      // The timer alone is budgeted: it is the run that plans everything, on a host that kills it at functionTimeout.
      ...(request.trigger === "timer" && !request.image ? { budgetMs: this.settings.syncBudgetMs } : {}),
      ...(this.store ? { store: this.store } : {}),
      ...(this.lock ? { lock: this.lock } : {}),
      ...(this.metrics ? { metrics: this.metrics } : {}),
      ...(request.enqueue ? { enqueue: request.enqueue } : {}),
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      ...(this.overrides.now ? { now: this.overrides.now } : {}),
      ...(this.overrides.log ? { log: this.overrides.log } : {}),
      ports: syncPortsOf(this.acrWiring()),
      markRemoved: !request.image,
      trust: new TrustResolver(this.secretProvider()),
    });
    const warnings = [
      ...loaded.warnings.map((w) => `${w.file}:${w.line} ${w.path}: ${w.message}`),
      ...outcome.warnings,
    ];
    if (this.bases && extended && !outcome.skipped) {
      // Base tracking is a report beside the sync: its failure is a warning, never a failed run.
      await this.bases
        .afterRun(full, extended.discovery, this.metrics, this.overrides.now?.() ?? new Date(), this.overrides.log)
        .catch((err: unknown) => warnings.push(`base images: ${err instanceof Error ? err.message : String(err)}`));
    }
    await this.metrics?.flush();
    return { ...outcome, warnings };
  }

  /**
   * The queue function's work: one message, copied and recorded. The message is a pointer: source, target, tags and
   * platforms are re-derived from the sync config loaded now (CopyMessageRefusedError when it names anything else).
   */
  async copy(message: CopyMessage): Promise<ImageResult> {
    const { config } = await this.loadConfig();
    const authority = { acrLoginServer: this.settings.acrLoginServer, now: this.now() };
    let item: PlanItem;
    try {
      item = authoriseCopy(message, { ...authority, config });
    } catch (err) {
      // Entries discovered from Dockerfiles (base tracking) exist only in the extended config.
      if (!(err instanceof CopyMessageRefusedError) || !this.bases) throw err;
      item = authoriseCopy(message, { ...authority, config: (await this.bases.extend(config)).config });
    }
    return copyFromMessage(
      this.client,
      { ...message, item },
      this.store,
      this.overrides.now,
      syncPortsOf(this.acrWiring()),
      // Every worker takes its pull from the one stored quota, so K instances together keep the reserve.
      { reserve: this.settings.rateLimitReserve },
    );
  }

  /**
   * The ACR-native paths for one run or one queued copy, from the ACR settings: a fresh catalog (each run lists
   * afresh, once per repository), the bulk lister (ACR_BULK_LISTING), locks (LOCK_IMAGES), the copy mode and importer
   * (COPY_MODE with the ACR_* ARM settings) and retention (RETENTION_*). Registries that are not ACRs, and sources
   * without a bulk listing, keep the HEAD and stream paths.
   */
  acrWiring(): AcrRunWiring {
    const settings = this.settings.acr;
    const o = this.overrides.acr ?? {};
    const isAcr = o.isAcr ?? isAcrHost;
    const log = this.overrides.log;
    const clients = (this.acrClients ??= o.clients ?? new AcrClients({ credential: this.azureCredential() }));
    const catalog = new AcrCatalog(clients, o.pageSize ? { pageSize: o.pageSize } : {});
    const { mode, ...policy } = settings.retention;
    const wiring: AcrRunWiring = {
      isAcr,
      catalog,
      locks: new AcrLocks(clients, catalog),
      copyMode: settings.copyMode,
      lockImages: settings.lockImages,
      retention: { mode, policy, ...(o.deleter ? { deleter: o.deleter } : {}) },
      ...(o.reachable ? { reachable: o.reachable } : {}),
      onDecision: (job, decision) => {
        // Streaming as configured is the ordinary case; imports and fallbacks are worth a line.
        if (decision.use === "import" || "fallback" in decision) {
          log?.(`${job.target.registry}/${job.target.repository}: ${decision.use}: ${decision.reason}`);
        }
      },
    };
    if (settings.bulkListing) {
      wiring.lister = createTagDigestLister({
        transport: this.transport,
        acr: catalog,
        // ACRs by the same predicate as locks and retention; others by host name. Plain registries: HEADs.
        kindOf: (registry) => {
          if (isAcr(registry)) return "acr";
          const kind = o.listingKindOf ? o.listingKindOf(registry) : listingKindFor(registry);
          return kind === "acr" ? undefined : kind;
        },
        onFallback: (registry, repository, reason) =>
          log?.(`bulk listing of ${registry}/${repository} unavailable, one HEAD per tag instead: ${reason}`),
      });
    }
    if (settings.importTarget && settings.copyMode !== "stream")
      wiring.importer = this.acrImporter(settings.importTarget);
    return wiring;
  }

  private acrImporter(target: NonNullable<Settings["acr"]["importTarget"]>): AcrImporter {
    const o = this.overrides.acr ?? {};
    this.importer ??= new AcrImporter({
      credential: this.azureCredential(),
      subscriptionId: target.subscriptionId,
      resourceGroup: target.resourceGroup,
      registryName: target.registryName,
      timeoutMs: target.timeoutMs,
      // Upstream credentials from the same resolver the Transport uses (Key Vault pull secrets, Docker config).
      sourceCredentials: async (registry) => (await this.currentCredentials()).resolve(registry),
      // One HEAD per tag after ARM says "Succeeded": proof that the tags hold what was asked.
      verify: async (registry, repository, tag) => (await this.client.manifestHead(registry, repository, tag))?.digest,
      // The root manifest, read once: an index's children count towards ACR's import limit.
      manifestCount: async (registry, repository, digest) => {
        const root = await this.client.manifestGet(registry, repository, digest);
        return isIndexType(root.mediaType) ? 1 + root.parsed.manifests.length : 1;
      },
      ...(this.settings.acrLoginServer ? { loginServer: this.settings.acrLoginServer } : {}),
      ...(o.armEndpoint ? { armEndpoint: o.armEndpoint } : {}),
      ...(o.armTlsCa !== undefined ? { tlsCa: o.armTlsCa } : {}),
      ...(o.importPollIntervalMs !== undefined ? { pollIntervalMs: o.importPollIntervalMs } : {}),
      ...(o.retry ? { retry: o.retry } : {}),
    });
    return this.importer;
  }

  /** The Entra ID credential, made on first use: a run that never reaches an ACR API never builds one. */
  /** What the trace needs, built once: null when TRACE_CONFIG_SOURCE is not set. */
  traceDeps(): Promise<TraceDeps | null> {
    this.trace ??= (async () => {
      const spec = this.settings.traceConfigSource;
      if (!spec) return null;
      const service = this.settings.traceService;
      // A file (TRACE_SERVICE with a path) keeps its catalogue beside it; a built-in one beside the module.
      const fromFile = isServiceDefinitionPath(service);
      const definition = fromFile ? await readServiceDefinition(service) : await builtInServiceDefinition(service);
      const catalogue = fromFile
        ? await catalogueForDefinition(definition, dirname(resolve(service)))
        : await builtInCatalogue(definition);
      return {
        source: openConfigSource(spec, {
          transport: this.transport,
          requiredRefs: this.settings.traceRequiredRefs,
        }),
        definition,
        catalogue,
        client: this.client,
        ...(this.tables ? { store: new TraceStore(this.tables) } : {}),
        ...(this.overrides.registryMap ? { registryMap: this.overrides.registryMap } : {}),
        limits: {
          allow: await this.traceAllowList(definition, catalogue),
          deadlineMs: this.settings.traceDeadlineMs,
          // Same credentials, but every request checked against the allow-list and bound to the trace's deadline.
          clientFor: (fetch) => new RegistryClient(new Transport({ auth: this.auth, fetch })),
        },
        signatures: true,
      };
    })();
    this.trace.catch(() => (this.trace = undefined));
    return this.trace;
  }

  /**
   * The registries a trace may read: those the service definition and its catalogue name, the sync config's sources
   * and target, the registry map (both sides: the operator wrote it), and TRACE_ALLOWED_REGISTRIES.
   */
  private async traceAllowList(
    definition: ServiceDefinition,
    catalogue: ComponentCatalogue,
  ): Promise<RegistryAllowList> {
    const hosts = new Set<string>([...definition.registries, ...this.settings.traceAllowedRegistries]);
    for (const entry of catalogue.entries)
      for (const pattern of entry.repositories) {
        const host = pattern.split("/")[0]!;
        if (!host.includes("*")) hosts.add(host);
      }
    for (const [from, to] of Object.entries(this.overrides.registryMap ?? {})) hosts.add(from).add(to);
    try {
      const { config } = await this.loadConfig();
      hosts.add(config.target.registry);
      for (const e of [...config.images, ...config.serviceConfigs]) hosts.add(e.source.registry);
    } catch {
      // A sync config that does not load adds nothing; traces still run on the rest of the list.
    }
    return new RegistryAllowList(hosts);
  }

  /** Source commits of mirrored digests, for status rows (labels read once per digest, cached in the Labels table). */
  sourceCommits(): SourceCommitLookup {
    return sourceCommitLookup({
      client: this.client,
      ...(this.tables ? { store: new TraceStore(this.tables) } : {}),
      ...(this.overrides.registryMap ? { registryMap: this.overrides.registryMap } : {}),
    });
  }

  /** The clock every run and report uses (tests move it). */
  now(): Date {
    return this.overrides.now?.() ?? new Date();
  }

  /** The store, for the routes that read history. */
  requireStore(): SyncStore {
    if (!this.store) throw new StorageNotConfiguredError();
    return this.store;
  }

  azureCredential(): TokenCredential {
    this.credential ??=
      this.overrides.credential ??
      (this.settings.azureClientId
        ? new ManagedIdentityCredential({ clientId: this.settings.azureClientId })
        : new DefaultAzureCredential());
    return this.credential;
  }

  private secretProvider(): (SecretProvider & { invalidate?(name: string): void }) | undefined {
    if (this.settings.keyVaultUri) {
      return new CachingSecretProvider(new KeyVaultSecretProvider(this.settings.keyVaultUri, this.azureCredential()));
    }
    if (this.settings.localSecretsDir) return new DirectorySecretProvider(this.settings.localSecretsDir);
    return undefined;
  }

  private adoptCredentials(config: SyncConfig): void {
    const acr = this.settings.acrLoginServer;
    this.credentials = credentialsFor({
      pullSecrets: config.credentials,
      ...(this.secrets ? { secrets: this.secrets } : {}),
      ...(acr ? { entra: { registries: [acr], credential: this.azureCredential() } } : {}),
      fallback: async (registry) => (await this.localFallback())(registry),
    });
  }

  /** On a developer machine the Docker CLI's own config is the fallback; in Azure there is none to find. */
  private localFallback(): Promise<Credentials["resolve"]> {
    this.fallback ??= localDockerCredentials();
    return this.fallback;
  }

  private async currentCredentials(): Promise<Credentials> {
    if (!this.credentials) await this.loadConfig();
    return this.credentials!;
  }
}

function onlyImage(config: SyncConfig, image: string): SyncConfig {
  const matches = (e: SyncConfig["images"][number]) =>
    [e.source, e.target].some((r) => r.repository === image || `${r.registry}/${r.repository}` === image);
  const images = config.images.filter(matches);
  const serviceConfigs = config.serviceConfigs.filter(matches);
  if (images.length + serviceConfigs.length === 0) throw new UnknownImageError(image);
  return { ...config, images, serviceConfigs };
}

export class UnknownImageError extends Error {
  constructor(readonly image: string) {
    super(`no entry in the sync config has the source or target repository "${image}"`);
    this.name = "UnknownImageError";
  }
}
