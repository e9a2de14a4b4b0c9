/**
 * ACR's own view of a repository, through @azure/container-registry: every manifest with its tags, its children
 * (for an index) and its write/delete protection, one `GET /acr/v1/<name>/_manifests` per page. One snapshot per
 * repository and run serves the planner (tag → digest), locks (is this tag's manifest write-protected) and retention
 * (what may go), so a run pays for the listing once.
 */
import { ContainerRegistryClient, type ArtifactManifestProperties } from "@azure/container-registry";
import type { TokenCredential } from "@azure/identity";
import { normaliseRegistry } from "../registry/reference";
import { acrRequestKind, sdkErrorInfo, sdkPolicies, sdkRetryOptions, type SdkPipelineOptions } from "./sdk";

/** Login servers of Azure Container Registry in the public and sovereign clouds. */
const ACR_HOST = /^[a-z0-9]+\.azurecr\.(?:io|cn|us)$/i;

export function isAcrHost(registry: string): boolean {
  return ACR_HOST.test(registry);
}

export interface AcrClientOptions extends SdkPipelineOptions {
  /** Entra ID credential (the app's managed identity); exchanged for ACR tokens by the SDK. */
  credential: TokenCredential;
  /** The https endpoint for a registry name. Default `https://<registry>`; a test maps a loopback name to a stand-in. */
  endpoint?: (registry: string) => string;
  /** Token audience; the SDK's default is `https://containerregistry.azure.net`. */
  audience?: string;
}

/** One ContainerRegistryClient per registry (each does its own token exchange, so they are kept for the run). */
export class AcrClients {
  private readonly clients = new Map<string, ContainerRegistryClient>();

  constructor(readonly options: AcrClientOptions) {}

  endpoint(registry: string): string {
    return this.options.endpoint?.(registry) ?? `https://${normaliseRegistry(registry)}`;
  }

  forRegistry(registry: string): ContainerRegistryClient {
    const key = normaliseRegistry(registry);
    let client = this.clients.get(key);
    if (!client) {
      client = new ContainerRegistryClient(this.endpoint(key), this.options.credential, {
        ...(this.options.audience ? { audience: this.options.audience } : {}),
        additionalPolicies: sdkPolicies(this.options, acrRequestKind),
        retryOptions: sdkRetryOptions(this.options.retry),
        userAgentOptions: { userAgentPrefix: "acr-image-sync" },
      });
      this.clients.set(key, client);
    }
    return client;
  }
}

export interface AcrManifest {
  digest: string;
  tags: string[];
  /** Child manifests of an index (ACR's `references`). */
  references: string[];
  /** False when ACR's write protection is on (a lock): tags on this manifest cannot be moved. */
  canWrite: boolean;
  /** False when ACR's delete protection is on: neither the manifest nor (for us) its tags are deleted. */
  canDelete: boolean;
  createdOn?: Date;
  lastUpdatedOn?: Date;
}

export interface AcrRepositorySnapshot {
  registry: string;
  repository: string;
  /** False when ACR answered 404: the repository does not exist (yet), so every tag is missing. */
  exists: boolean;
  manifests: AcrManifest[];
  /** Every tag in the repository and the digest it points at. */
  tags: Map<string, string>;
  /** Listing requests it took (pages), for reports. */
  pages: number;
}

export interface AcrCatalogOptions {
  /** Manifests per page (`n`); absent: the registry's default. */
  pageSize?: number;
}

function toManifest(m: ArtifactManifestProperties): AcrManifest {
  const out: AcrManifest = {
    digest: m.digest,
    tags: [...(m.tags ?? [])],
    references: (m.relatedArtifacts ?? []).map((r) => r.digest).filter((d): d is string => typeof d === "string"),
    canWrite: m.canWrite !== false,
    canDelete: m.canDelete !== false,
  };
  if (m.createdOn) out.createdOn = m.createdOn;
  if (m.lastUpdatedOn) out.lastUpdatedOn = m.lastUpdatedOn;
  return out;
}

/** Snapshots of ACR repositories, fetched once per repository until `invalidate`. Make one per run. */
export class AcrCatalog {
  private readonly snapshots = new Map<string, Promise<AcrRepositorySnapshot>>();

  constructor(
    readonly clients: AcrClients,
    private readonly options: AcrCatalogOptions = {},
  ) {}

  snapshot(registry: string, repository: string): Promise<AcrRepositorySnapshot> {
    const key = `${normaliseRegistry(registry)}/${repository}`;
    let p = this.snapshots.get(key);
    if (!p) {
      p = this.fetch(normaliseRegistry(registry), repository);
      // A failed listing is not remembered: the next caller may try again.
      p.catch(() => this.snapshots.delete(key));
      this.snapshots.set(key, p);
    }
    return p;
  }

  /**
   * Records a protection change this process made, in the snapshot already held (if any), so a lock after each copy
   * does not cost a new listing of the repository.
   */
  async noteProtection(
    registry: string,
    repository: string,
    digest: string,
    canWrite: boolean,
    canDelete: boolean,
  ): Promise<void> {
    const snapshot = await this.snapshots.get(`${normaliseRegistry(registry)}/${repository}`)?.catch(() => undefined);
    const m = snapshot?.manifests.find((x) => x.digest === digest);
    if (m) Object.assign(m, { canWrite, canDelete });
  }

  /** Forgets one repository's snapshot (after writing to it), or every snapshot. */
  invalidate(registry?: string, repository?: string): void {
    if (registry === undefined) this.snapshots.clear();
    else this.snapshots.delete(`${normaliseRegistry(registry)}/${repository}`);
  }

  private async fetch(registry: string, repository: string): Promise<AcrRepositorySnapshot> {
    const repo = this.clients.forRegistry(registry).getRepository(repository);
    const manifests: AcrManifest[] = [];
    let pages = 0;
    try {
      const settings = this.options.pageSize ? { maxPageSize: this.options.pageSize } : {};
      for await (const page of repo.listManifestProperties().byPage(settings)) {
        pages++;
        for (const m of page) manifests.push(toManifest(m));
      }
    } catch (err) {
      if (sdkErrorInfo(err).status === 404) {
        return { registry, repository, exists: false, manifests: [], tags: new Map(), pages };
      }
      throw err;
    }
    const tags = new Map<string, string>();
    for (const m of manifests) for (const t of m.tags) tags.set(t, m.digest);
    return { registry, repository, exists: true, manifests, tags, pages };
  }
}
