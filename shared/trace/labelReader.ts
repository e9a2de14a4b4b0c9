/**
 * Label reads for one trace (or one diff): each digest is read once, through the Labels cache when there is one, and
 * a host that failed is not asked again. Failures become outcomes, never exceptions, so one image cannot stop the
 * others.
 */
import { AuthError } from "../registry/auth";
import type { RegistryClient } from "../registry/client";
import { DigestMismatchError } from "../registry/digest";
import { ManifestError } from "../registry/manifest";
import { InvalidReferenceError } from "../registry/reference";
import { isNetworkError, RetryableError } from "../registry/retry";
import { RegistryError } from "../registry/transport";
import type { LabelRecord, TraceStore } from "../store/traceStore";
import { TraceRequestRefusedError } from "./guard";
import { hasSignature } from "../supply/signatureProbe";
import { LabelReadError, readImageLabels } from "./labels";
import { type RegistryMap, readFrom } from "./registryMap";
import type { ComponentErrorKind } from "./response";

export type LabelOutcome =
  | { ok: true; record: LabelRecord; readFrom: string }
  | { ok: false; kind: ComponentErrorKind; message: string; readFrom: string };

export interface LabelReaderOptions {
  store?: TraceStore | undefined;
  registryMap?: RegistryMap | undefined;
  maxConfigBytes?: number | undefined;
  /** Probe each digest for a signature (one referrers call), cached with its labels. */
  signatures?: boolean | undefined;
  /** Told when the cache cannot be used; the read goes on without it. */
  warn?: ((message: string) => void) | undefined;
  /** The registries (as the config names them) that may be asked at all; absent: any. */
  allowed?: ((registry: string) => boolean) | undefined;
  /** The trace's deadline: once aborted, nothing more is asked. */
  signal?: AbortSignal | undefined;
}

export class LabelReader {
  private readonly byLocation = new Map<string, Promise<LabelOutcome>>();
  private readonly byDigest = new Map<string, Promise<LabelRecord | undefined>>();
  private readonly failedHosts = new Map<string, string>();

  constructor(
    private readonly client: RegistryClient,
    private readonly options: LabelReaderOptions = {},
  ) {}

  read(registry: string, repository: string, digest: string): Promise<LabelOutcome> {
    const host = readFrom(this.options.registryMap, registry);
    if (this.options.allowed && !this.options.allowed(registry)) {
      // Named by the config, not by the operator: never contacted, whatever it is.
      return Promise.resolve({
        ok: false,
        kind: "not-allowed",
        message: `${printableHost(registry)} is not on the trace's registry allow-list (TRACE_ALLOWED_REGISTRIES)`,
        readFrom: host,
      });
    }
    const key = `${host}/${repository}@${digest}`;
    let outcome = this.byLocation.get(key);
    if (!outcome) {
      outcome = this.load(host, repository, digest);
      this.byLocation.set(key, outcome);
    }
    return outcome;
  }

  private async load(host: string, repository: string, digest: string): Promise<LabelOutcome> {
    // Content addressing: labels read for this digest anywhere (another repository, another registry) are the
    // labels here too. Only a success is shared; a failure elsewhere says nothing about this location.
    // Looked up before any await, so two locations of one digest asked at once still read it once.
    const known = this.byDigest.get(digest);
    if (known) {
      const record = await known;
      if (record) return { ok: true, record, readFrom: host };
    }
    const attempt = this.readOnce(host, repository, digest);
    this.byDigest.set(
      digest,
      attempt.then((o) => (o.ok ? o.record : undefined)),
    );
    return attempt;
  }

  private async readOnce(host: string, repository: string, digest: string): Promise<LabelOutcome> {
    const store = this.options.store;
    if (store) {
      try {
        const cached = await store.getLabels(digest);
        if (cached && (!this.options.signatures || cached.signed !== undefined))
          return { ok: true, record: cached, readFrom: host };
      } catch (err) {
        this.options.warn?.(`label cache not read: ${storeErrorText(err)}`);
      }
    }
    if (this.options.signal?.aborted) {
      return { ok: false, kind: "unreachable", message: "not asked: the trace's deadline passed", readFrom: host };
    }
    const failed = this.failedHosts.get(host);
    if (failed !== undefined) {
      return {
        ok: false,
        kind: "unreachable",
        message: `not asked: ${host} failed earlier in this trace (${failed})`,
        readFrom: host,
      };
    }
    try {
      const record = await readImageLabels(this.client, host, repository, digest, {
        ...(this.options.maxConfigBytes !== undefined ? { maxConfigBytes: this.options.maxConfigBytes } : {}),
      });
      if (this.options.signatures) {
        const signed = await hasSignature(this.client, host, repository, digest);
        if (signed !== undefined) record.signed = signed;
      }
      if (store) {
        try {
          await store.saveLabels(record);
        } catch (err) {
          this.options.warn?.(`label cache not written: ${storeErrorText(err)}`);
        }
      }
      return { ok: true, record, readFrom: host };
    } catch (err) {
      const { kind, message } = classifyReadError(err, host);
      // A host that is down (or still failing after the transport's retries) would fail every other read the same
      // way, each after its own backoff.
      if (kind === "unreachable" || (kind === "registry-error" && serverSide(err))) this.failedHosts.set(host, message);
      return { ok: false, kind, message, readFrom: host };
    }
  }
}

function serverSide(err: unknown): boolean {
  const status = (err as { status?: unknown }).status;
  return typeof status === "number" && (status >= 500 || status === 429);
}

/**
 * Maps what the registry client throws to a kind and a message fit for a response: our own words and the status
 * code, never the registry's error text (which an untrusted or internal service would use to talk to the caller),
 * and not the socket error either (refused versus timed out is a port scan).
 */
export function classifyReadError(err: unknown, host: string): { kind: ComponentErrorKind; message: string } {
  if (err instanceof LabelReadError) return { kind: err.kind, message: err.message };
  if (err instanceof TraceRequestRefusedError)
    return { kind: "not-allowed", message: `${host} sent the request to a host outside the allow-list` };
  if (isAbort(err)) return { kind: "unreachable", message: `no answer from ${host} before the trace's deadline` };
  if (err instanceof AuthError)
    return { kind: "unauthorized", message: `unauthorized: ${host} refused our credentials` };
  if (err instanceof RegistryError) {
    if (err.status === 401 || err.status === 403)
      return { kind: "unauthorized", message: `unauthorized: ${host} answered HTTP ${err.status}` };
    if (err.status === 404) return { kind: "not-found", message: `not found on ${host}` };
    return { kind: "registry-error", message: `${host} answered HTTP ${err.status}` };
  }
  if (err instanceof RetryableError)
    return { kind: "registry-error", message: `${host} answered HTTP ${err.status ?? "error"} after retries` };
  if (err instanceof ManifestError || err instanceof DigestMismatchError || err instanceof InvalidReferenceError) {
    return { kind: "invalid-image", message: `${host}: not a readable image (${err.name})` };
  }
  if (isNetworkError(err)) return { kind: "unreachable", message: `cannot reach ${host}` };
  return { kind: "registry-error", message: `${host}: the read failed` };
}

function isAbort(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === "AbortError" || e.name === "TraceDeadlineError" || e.name === "TimeoutError") return true;
  }
  return false;
}

function printableHost(registry: string): string {
  const clean = registry.replace(/[^\x21-\x7e]/g, "?");
  return clean.length > 100 ? `${clean.slice(0, 100)}…` : clean;
}

// Storage SDK errors can carry request URLs; a status code or error name is enough to act on.
export function storeErrorText(err: unknown): string {
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === "number") return `Table Storage answered ${status}`;
  return err instanceof Error ? err.name : "unknown error";
}
