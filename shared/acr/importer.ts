/**
 * ACR server-side import (`registries.importImage`, an ARM long-running operation): ACR pulls the source itself, so
 * no byte passes through the Function. Always by digest (`repo@sha256:…` as the source, never a moving tag), with the
 * mirrored tag and the pin tag set together by `targetTags`; the operation is awaited with a timeout, and any failure
 * is an `ImportError` for this image alone.
 */
import { ContainerRegistryManagementClient, type ImportImageParameters } from "@azure/arm-containerregistry";
import type { TokenCredential } from "@azure/identity";
import type { CredentialResolver } from "../registry/auth";
import { normaliseRegistry } from "../registry/reference";
import { isLoopback } from "../registry/transport";
import type { CopyJob, CopyOutcome } from "./copier";
import { armRequestKind, sdkErrorInfo, sdkPolicies, sdkRetryOptions, type SdkPipelineOptions } from "./sdk";

/** ACR's documented ceiling: an image (an index and its children) of more than 50 manifests cannot be imported. */
export const IMPORT_MAX_MANIFESTS = 50;
export const DEFAULT_IMPORT_TIMEOUT_MS = 10 * 60 * 1000;
const ACR_REFRESH_TOKEN_USER = "00000000-0000-0000-0000-000000000000";

export type ImportPhase = "request" | "operation" | "timeout" | "verify" | "unsupported";

/** Why an import did not happen or did not finish; `phase` says where. Messages never carry credentials. */
export class ImportError extends Error {
  constructor(
    message: string,
    readonly phase: ImportPhase,
    readonly code?: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ImportError";
  }
}

export interface ImporterOptions extends SdkPipelineOptions {
  credential: TokenCredential;
  /** The target registry's ARM coordinates (settings ACR_SUBSCRIPTION_ID, ACR_RESOURCE_GROUP, ACR_REGISTRY_NAME). */
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
  /** Upstream credentials, the same resolver the sync uses (Key Vault pull secrets). */
  sourceCredentials?: CredentialResolver;
  /** ARM resource id of a source that is itself an ACR: imported with Entra ID auth instead of a password. */
  sourceResourceId?: (registry: string) => string | undefined;
  /** Longest wait for the operation, request included. Default 10 minutes. */
  timeoutMs?: number;
  /** Delay between polls of the operation; default the SDK's (2 s), or what ARM's Retry-After says. */
  pollIntervalMs?: number;
  /** `Force` (default) moves tags that exist; `NoForce` fails the import when any target tag exists. */
  mode?: "Force" | "NoForce";
  /**
   * The registry's login server (setting ACR_LOGIN_SERVER); a job for any other registry is refused, since ARM
   * imports into `registryName` whatever the job says. Default `<registryName>.azurecr.io`.
   */
  loginServer?: string;
  /** ARM endpoint; a test points it at a stand-in. Default `https://management.azure.com`. */
  armEndpoint?: string;
  /**
   * Reads back a target tag's digest after the operation (the executor passes its RegistryClient's HEAD): one more
   * request per image for proof that the tag holds what was asked. Absent: trust ARM's "Succeeded".
   */
  verify?: (registry: string, repository: string, tag: string) => Promise<string | undefined>;
  /**
   * How many manifests the source image is (1, or an index and its children; the runtime reads the root with one
   * GET). Over IMPORT_MAX_MANIFESTS the import is refused here, before ARM is asked: ACR would fail the operation
   * after minutes of polling, and in `auto` mode the image is streamed at once instead. Absent: ARM decides.
   */
  manifestCount?: (registry: string, repository: string, digest: string) => Promise<number>;
}

/** Whether ACR, on the internet, can reach a source registry: not loopback, private or single-label hosts. */
export function reachableByAcr(registry: string): boolean {
  const host = normaliseRegistry(registry).replace(/:\d+$/, "");
  if (isLoopback(host) || host === "localhost") return false;
  if (!host.includes(".")) return false;
  if (/^\[/.test(host)) return false;
  if (/^(?:10|127)\.|^192\.168\.|^172\.(?:1[6-9]|2\d|3[01])\.|^169\.254\./.test(host)) return false;
  return !/\.(?:local|internal|lan|home\.arpa)$/i.test(host);
}

export class AcrImporter {
  private readonly client: ContainerRegistryManagementClient;

  constructor(private readonly options: ImporterOptions) {
    const endpoint = options.armEndpoint ?? "https://management.azure.com";
    this.client = new ContainerRegistryManagementClient(options.credential, options.subscriptionId, {
      endpoint,
      credentials: { scopes: [`${endpoint}/.default`] },
      additionalPolicies: sdkPolicies(options, armRequestKind),
      retryOptions: sdkRetryOptions(options.retry),
      userAgentOptions: { userAgentPrefix: "acr-image-sync" },
    });
  }

  /** The registry this importer writes to. */
  get loginServer(): string {
    return normaliseRegistry(this.options.loginServer ?? `${this.options.registryName.toLowerCase()}.azurecr.io`);
  }

  /** Imports one image by digest and sets every tag of the job on it. */
  async copyByImport(job: CopyJob): Promise<CopyOutcome> {
    const started = Date.now();
    if (job.platforms && job.platforms.length > 0) {
      throw new ImportError(
        "import copies every platform of an index; this entry filters platforms, so it is streamed",
        "unsupported",
      );
    }
    if (normaliseRegistry(job.target.registry) !== this.loginServer) {
      throw new ImportError(
        `import writes to ${this.loginServer}; this job's target is ${normaliseRegistry(job.target.registry)}`,
        "unsupported",
      );
    }
    if (!/^sha256:[a-f0-9]{64}$/.test(job.source.digest)) {
      throw new ImportError(`import needs a source digest, got "${job.source.digest}"`, "unsupported");
    }
    if (this.options.manifestCount) {
      const count = await this.options.manifestCount(job.source.registry, job.source.repository, job.source.digest);
      if (count > IMPORT_MAX_MANIFESTS) {
        throw new ImportError(
          `${job.source.registry}/${job.source.repository}@${job.source.digest} is ${count} manifests; ACR imports at most ${IMPORT_MAX_MANIFESTS}`,
          "unsupported",
        );
      }
    }
    const parameters = await this.parameters(job);
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_IMPORT_TIMEOUT_MS;
    const abortSignal = AbortSignal.timeout(timeoutMs);
    const what = `import ${job.source.registry}/${job.source.repository}@${job.source.digest} → ${this.options.registryName}/${job.target.repository}`;
    try {
      const poller = this.client.registries.importImage(
        this.options.resourceGroup,
        this.options.registryName,
        parameters,
        {
          abortSignal,
          ...(this.options.pollIntervalMs !== undefined ? { updateIntervalInMs: this.options.pollIntervalMs } : {}),
        },
      );
      await poller.pollUntilDone({ abortSignal });
    } catch (err) {
      throw this.importError(err, what, abortSignal.aborted, timeoutMs);
    }
    if (this.options.verify) {
      for (const tag of job.tags) {
        let digest: string | undefined;
        try {
          digest = await this.options.verify(job.target.registry, job.target.repository, tag);
        } catch (err) {
          throw new ImportError(`${what}: could not read back tag ${tag}: ${sdkErrorInfo(err).message}`, "verify");
        }
        if (digest !== job.source.digest) {
          throw new ImportError(`${what}: ARM reported success, but tag ${tag} holds ${digest ?? "nothing"}`, "verify");
        }
      }
    }
    return { digest: job.source.digest, bytes: 0, via: "import", durationMs: Date.now() - started };
  }

  private async parameters(job: CopyJob): Promise<ImportImageParameters> {
    const registry = normaliseRegistry(job.source.registry);
    const sourceImage = `${job.source.repository}@${job.source.digest}`;
    const resourceId = this.options.sourceResourceId?.(registry);
    const source: ImportImageParameters["source"] = resourceId
      ? { resourceId, sourceImage }
      : { registryUri: registry, sourceImage };
    if (!resourceId) {
      const cred = await this.options.sourceCredentials?.(registry);
      if (cred?.kind === "basic") source.credentials = { username: cred.username, password: cred.password };
      else if (cred?.kind === "refreshToken") {
        source.credentials = { username: ACR_REFRESH_TOKEN_USER, password: cred.refreshToken };
      }
    }
    const parameters: ImportImageParameters = { source, mode: this.options.mode ?? "Force" };
    if (job.tags.length > 0) parameters.targetTags = job.tags.map((t) => `${job.target.repository}:${t}`);
    else parameters.untaggedTargetRepositories = [job.target.repository];
    return parameters;
  }

  private importError(err: unknown, what: string, timedOut: boolean, timeoutMs: number): ImportError {
    if (timedOut) {
      return new ImportError(
        `${what}: not finished after ${Math.round(timeoutMs / 1000)} s (ACR may still complete it)`,
        "timeout",
        undefined,
        undefined,
        { cause: err },
      );
    }
    const info = sdkErrorInfo(err);
    // core-lro reports a failed operation as "The long-running operation has failed. <code>. <message>".
    const lro = /long-running operation has failed\.?\s*(?:([A-Za-z][\w.]*)\.\s*)?(.*)$/s.exec(info.message);
    if (lro) {
      const code = lro[1];
      const detail = (lro[2] ?? "").trim();
      return new ImportError(
        `${what}: ACR refused${code ? ` (${code})` : ""}${detail ? `: ${detail}` : ""}`,
        "operation",
        code,
        undefined,
        { cause: err },
      );
    }
    return new ImportError(
      `${what}: ARM answered ${info.status ?? "no response"}${info.code ? ` (${info.code})` : ""}: ${info.message}`,
      "request",
      info.code,
      info.status,
      { cause: err },
    );
  }
}
